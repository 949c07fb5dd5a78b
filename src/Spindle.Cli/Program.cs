using Spindle.Cli;
using Spindle.Engine;

// One Wasm engine for the process (engines, pools, lanes), made from the engine flags and SPINDLE_* variables once
// they are parsed; it serves wasi:http components, Wagi modules and Spin's first-generation modules.
return await SpindleCommandLine.RunAsync(args, SpindleEngine.Create);
