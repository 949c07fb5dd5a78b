using Microsoft.Data.Sqlite;
using Spindle.App.Model;
using Spindle.App.RuntimeConfiguration;

namespace Spindle.Spin.Sqlite;

/// <summary>
/// An application's SQLite databases, as Spin's SQLite factor sets them up: the runtime config maps labels to files
/// (in memory without a path); <c>default</c> is always there (<c>sqlite_db.db</c> in the state directory unless
/// mapped elsewhere); every label a component lists in <c>sqlite_databases</c> must be mapped.
/// </summary>
public sealed class SqliteDatabases
{
    /// <summary>The label every application has.</summary>
    public const string DefaultLabel = "default";

    /// <summary>The default database's file name in the state directory (Spin's).</summary>
    public const string DefaultFileName = "sqlite_db.db";

    private readonly Dictionary<string, string?> _paths;
    private readonly Dictionary<string, HashSet<string>> _allowed;

    private SqliteDatabases(Dictionary<string, string?> paths, Dictionary<string, HashSet<string>> allowed)
    {
        _paths = paths;
        _allowed = allowed;
    }

    /// <summary>
    /// Checks the components' labels and prepares the folders of the files they use (the files are opened by the
    /// guests' connections). <paramref name="stateDirectory"/> as for <see cref="KeyValue.KeyValueStores.OpenAsync"/>.
    /// </summary>
    /// <exception cref="SqliteConfigurationException">A label is not mapped, or a database folder cannot be created.</exception>
    public static SqliteDatabases Open(SpinApp app, RuntimeConfig config, string? stateDirectory = null)
    {
        var paths = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var c in config.SqliteDatabases) paths[c.Label] = c.Path;
        if (!paths.ContainsKey(DefaultLabel))
        {
            var dir = StateDirectory.Resolve(app, config, stateDirectory);
            paths[DefaultLabel] = Path.GetFullPath(Path.Combine(dir, DefaultFileName));
        }
        var allowed = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var (id, component) in app.Components)
        {
            allowed[id] = new HashSet<string>(component.SqliteDatabases, StringComparer.Ordinal);
            foreach (var label in component.SqliteDatabases)
                if (!paths.ContainsKey(label)) missing.Add($"component \"{id}\" uses database \"{label}\"");
        }
        if (missing.Count > 0)
            throw new SqliteConfigurationException(
                $"SQLite databases are used but not defined ({string.Join("; ", missing)}): add [sqlite_database.<label>] tables to the runtime config (--runtime-config-file)");
        var databases = new SqliteDatabases(paths, allowed);
        foreach (var label in allowed.Values.SelectMany(a => a).Distinct()) databases.CreateFolderOf(label);
        return databases;
    }

    private void CreateFolderOf(string label)
    {
        if (_paths[label] is not { } path) return;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SqliteConfigurationException($"SQLite database \"{label}\": cannot create the folder of {path}: {e.Message}", e);
        }
    }

    /// <summary>What <paramref name="componentId"/> may open (the labels of its <c>sqlite_databases</c>).</summary>
    public ComponentSqlite ForComponent(string componentId) => new(this, _allowed.GetValueOrDefault(componentId) ?? []);

    internal bool TryGetPath(string label, out string? path) => _paths.TryGetValue(label, out path);

    /// <summary>
    /// <c>spindle up --sqlite</c>, before serving, in order: a statement runs against <c>default</c>;
    /// <c>@file</c> or <c>@file:label</c> runs every statement of the file against that database (relative file
    /// names from <paramref name="baseDirectory"/>). In-memory databases get a database of their own, as in Spin.
    /// </summary>
    /// <exception cref="SqliteConfigurationException">A file cannot be read, a label is unknown, or SQL fails (the message names which).</exception>
    public void RunStartupStatements(IEnumerable<string> statements, string baseDirectory)
    {
        foreach (var statement in statements)
        {
            if (!statement.StartsWith('@'))
            {
                CreateFolderOf(DefaultLabel);
                using var connection = new SqliteGuestConnection(_paths[DefaultLabel]);
                try
                {
                    connection.Execute(statement, []);
                }
                catch (SqliteGuestException e)
                {
                    throw new SqliteConfigurationException($"--sqlite: failed to execute '{statement}' against the default database: {e.Message}", e);
                }
                continue;
            }
            var spec = statement[1..];
            var colon = spec.IndexOf(':');
            var (file, label) = colon < 0 ? (spec.Trim(), DefaultLabel) : (spec[..colon].Trim(), spec[(colon + 1)..].Trim());
            if (file.Length == 0 || label.Length == 0)
                throw new SqliteConfigurationException($"--sqlite '{statement}': expected @file or @file:label");
            if (!_paths.TryGetValue(label, out var path))
                throw new SqliteConfigurationException($"--sqlite '{statement}': no database is labelled \"{label}\"");
            CreateFolderOf(label);
            var full = Path.GetFullPath(Path.Combine(baseDirectory, file));
            string sql;
            try
            {
                sql = File.ReadAllText(full);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SqliteConfigurationException($"--sqlite '{statement}': cannot read {full}: {e.Message}", e);
            }
            try
            {
                using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path ?? ":memory:", Pooling = false }.ToString());
                c.Open();
                using var cmd = c.CreateCommand();
                cmd.CommandText = sql; // every statement of the file runs, in order
                cmd.ExecuteNonQuery();
            }
            catch (SqliteException e)
            {
                throw new SqliteConfigurationException($"--sqlite '{statement}': failed to execute {full} against database \"{label}\": {e.Message}", e);
            }
        }
    }
}

/// <summary>The databases one component may open.</summary>
public sealed class ComponentSqlite
{
    private readonly SqliteDatabases _databases;
    private readonly HashSet<string> _allowed;

    internal ComponentSqlite(SqliteDatabases databases, HashSet<string> allowed)
    {
        _databases = databases;
        _allowed = allowed;
    }

    /// <summary>Opens a connection to <paramref name="label"/>, or says why not.</summary>
    public (SqliteGuestConnection? Connection, StateOpenError Error) Open(string label) =>
        !_allowed.Contains(label) ? (null, StateOpenError.AccessDenied)
        : _databases.TryGetPath(label, out var path) ? (new SqliteGuestConnection(path), StateOpenError.None)
        : (null, StateOpenError.NotFound);
}

/// <summary>The application's SQLite databases cannot be set up (the message names the label, component, file or statement).</summary>
public sealed class SqliteConfigurationException(string message, Exception? inner = null) : Exception(message, inner);
