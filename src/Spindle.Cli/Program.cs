using Spindle.Cli;
using Spindle.Trigger.Http.Executors;

// One Wasm engine for the process; it serves wasi:http components and Wagi modules.
using var wasm = new WasmExecutors();
return await SpindleCommandLine.RunAsync(args, wasm.CreateRegistry());
