using Spindle.Components.Host;
using Spindle.Components.Types;
using Spindle.Components.Values;
using Spindle.Wasi.Preview2.Io;

namespace Spindle.Wasi.Preview2.Interfaces;

/// <summary><c>wasi:cli/*</c>: environment, exit, stdio (stderr to the log; stdout to the log or <see cref="WasiContext.StdoutStream"/>) and terminals (none).</summary>
internal static class CliInterfaces
{
    public static IEnumerable<HostInterface> Create(string version, IoInterfaces io)
    {
        var env = new HostInterface("wasi:cli/environment", version);
        env.DefineFunc("get-environment", T.Func([], T.List(T.Tuple(T.String, T.String))),
            (c, _) => Args.Wasi(c).Environment.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToArray());
        env.DefineFunc("get-arguments", T.Func([], T.List(T.String)),
            (c, _) => Args.Wasi(c).Arguments.Select(s => (object?)s).ToArray());
        env.DefineFunc("initial-cwd", T.Func([], T.Option(T.String)),
            (c, _) => Args.Wasi(c).InitialCwd is { } cwd ? new Some(cwd) : null);
        yield return env;

        var exit = new HostInterface("wasi:cli/exit", version);
        exit.DefineFunc("exit", T.Func([("status", T.Result())]),
            (c, a) => Exit(Args.Wasi(c), a[0] is ResultValue { IsOk: true } ? 0 : 1));
        exit.DefineFunc("exit-with-code", T.Func([("status-code", T.U8)]),
            (c, a) => Exit(Args.Wasi(c), Convert.ToInt32(a[0])));
        yield return exit;

        var stdin = new HostInterface("wasi:cli/stdin", version);
        stdin.UseResource("input-stream", io.InputStreamType);
        stdin.DefineFunc("get-stdin", T.Func([], T.Own(io.InputStreamType)), (c, _) => Args.Wasi(c).Stdin());
        yield return stdin;

        var stdout = new HostInterface("wasi:cli/stdout", version);
        stdout.UseResource("output-stream", io.OutputStreamType);
        stdout.DefineFunc("get-stdout", T.Func([], T.Own(io.OutputStreamType)), (c, _) => Args.Wasi(c) is { StdoutStream: { } create } ? create() : new LogOutputStream(Args.Wasi(c).Stdout));
        yield return stdout;

        var stderr = new HostInterface("wasi:cli/stderr", version);
        stderr.UseResource("output-stream", io.OutputStreamType);
        stderr.DefineFunc("get-stderr", T.Func([], T.Own(io.OutputStreamType)), (c, _) => new LogOutputStream(Args.Wasi(c).Stderr));
        yield return stderr;

        var terminalInput = new HostInterface("wasi:cli/terminal-input", version);
        var terminalInputType = terminalInput.DefineResource("terminal-input");
        yield return terminalInput;
        var terminalOutput = new HostInterface("wasi:cli/terminal-output", version);
        var terminalOutputType = terminalOutput.DefineResource("terminal-output");
        yield return terminalOutput;

        // A server component never has a terminal.
        foreach (var (name, func, type, resourceName) in new[]
        {
            ("wasi:cli/terminal-stdin", "get-terminal-stdin", terminalInputType, "terminal-input"),
            ("wasi:cli/terminal-stdout", "get-terminal-stdout", terminalOutputType, "terminal-output"),
            ("wasi:cli/terminal-stderr", "get-terminal-stderr", terminalOutputType, "terminal-output"),
        })
        {
            var i = new HostInterface(name, version);
            i.UseResource(resourceName, type);
            i.DefineFunc(func, T.Func([], T.Option(T.Own(type))), (_, _) => null);
            yield return i;
        }
    }

    private static object? Exit(WasiContext context, int status)
    {
        context.ExitStatus = status;
        throw new WasiExitException(status);
    }
}
