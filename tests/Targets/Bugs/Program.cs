return await Bugs.Scenarios.Runner.RunAsync(args);
