using Microsoft.Extensions.Logging;
using Spindle.App.Model;
using Spindle.App.Variables;
using Spindle.Outbound.AllowedHosts;

namespace Spindle.Trigger.Http.Executors;

/// <summary>Everything an executor needs to prepare one component for one trigger, once at load.</summary>
public sealed class ExecutorContext
{
    /// <summary>The application.</summary>
    public required SpinApp App { get; init; }

    /// <summary>The component to run.</summary>
    public required AppComponent Component { get; init; }

    /// <summary>The trigger that routes to it (its executor table is <see cref="Executor"/>).</summary>
    public required HttpTrigger Trigger { get; init; }

    /// <summary>The trigger's executor configuration.</summary>
    public ExecutorConfig Executor => Trigger.Executor;

    /// <summary>Application and component variables (the <c>variables</c> interfaces resolve through this).</summary>
    public required VariableResolver Variables { get; init; }

    /// <summary>The component's outbound allow-list.</summary>
    public required OutboundAllowList OutboundHosts { get; init; }

    /// <summary>Sends the component's outbound requests under its allow-list; null denies them all.</summary>
    public Spindle.Wasi.Http.OutboundHttpHandler? OutboundHttp { get; init; }

    /// <summary>The key-value stores and SQLite databases the component may open (null: none).</summary>
    public Spindle.Spin.ComponentState? State { get; init; }

    /// <summary>Whether guest stdout/stderr should be silenced (<c>--quiet</c>).</summary>
    public bool QuietComponentOutput { get; init; }

    /// <summary>
    /// Whether the component's instances may be reset after a request and serve the next one
    /// (<c>--instance-reuse</c>, default true); false: a fresh instance for every request, as Spin does.
    /// </summary>
    public bool InstanceReuse { get; init; } = true;

    /// <summary>
    /// A timeout of the executor's own, for executors used without the trigger (which leaves it null and passes each
    /// request's deadline as <see cref="InboundRequest.Aborted"/>).
    /// </summary>
    public TimeSpan? RequestTimeout { get; init; }

    /// <summary>Loggers.</summary>
    public required ILoggerFactory Logging { get; init; }
}

/// <summary>
/// Creates the executor for a component at load (compiling, planning instantiation...). The host registers one
/// factory per <see cref="ExecutorKind"/> (wasi:http components, Wagi modules) in an <see cref="ExecutorFactoryRegistry"/>.
/// </summary>
public interface IExecutorFactory
{
    /// <summary>Prepares the component; throws <see cref="ExecutorCreationException"/> with a clear reason if it cannot run.</summary>
    IRequestExecutor Create(ExecutorContext context);
}

/// <summary>A component that cannot be run; stops startup with the component named.</summary>
public sealed class ExecutorCreationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The executor factories available in this host, by kind.</summary>
public sealed class ExecutorFactoryRegistry
{
    private readonly Dictionary<ExecutorKind, IExecutorFactory> _factories = [];

    /// <summary>Registers (or replaces) the factory for <paramref name="kind"/>.</summary>
    public ExecutorFactoryRegistry Add(ExecutorKind kind, IExecutorFactory factory)
    {
        _factories[kind] = factory;
        return this;
    }

    /// <summary>The factory for <paramref name="kind"/>, if any.</summary>
    public IExecutorFactory? Get(ExecutorKind kind) => _factories.GetValueOrDefault(kind);

    /// <summary>Creates the executor for <paramref name="context"/>, or explains why there is none.</summary>
    /// <exception cref="ExecutorCreationException">No factory for the kind, or the factory refused.</exception>
    public IRequestExecutor Create(ExecutorContext context)
    {
        var kind = context.Executor.Kind;
        var factory = Get(kind) ?? throw new ExecutorCreationException(
            $"component '{context.Component.Id}' (trigger '{context.Trigger.Id}', executor " +
            $"'{context.Executor.TypeName ?? "http"}'): no executor for {(kind == ExecutorKind.Wagi ? "Wagi modules" : "wasi:http components")} is available in this build");
        try
        {
            return factory.Create(context);
        }
        catch (ExecutorCreationException)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new ExecutorCreationException($"component '{context.Component.Id}' ({context.Component.Source}): {e.Message}", e);
        }
    }
}
