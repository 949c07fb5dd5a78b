using Spindle.Cli;
using Spindle.Trigger.Http.Executors;

// Executors are registered here: wasi:http components (ExecutorKind.Http) and Wagi modules (ExecutorKind.Wagi).
var executors = new ExecutorFactoryRegistry();
return await SpindleCommandLine.RunAsync(args, executors);
