using Spindle.Examples.AspNetCore;

await ExampleApp.Build(args).RunAsync();
