using Spindle.Cli;
using Spindle.Trigger.Http.Executors;

// One Wasm runtime for the process (engines, pools, lanes), made from the engine flags once they are parsed; it
// serves wasi:http components, Wagi modules and Spin's first-generation modules.
return await SpindleCommandLine.RunAsync(args, WasmExecutors.Create);
