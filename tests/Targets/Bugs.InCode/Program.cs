using AsyncLens;

AsyncDebug.Enable(new AsyncDebugOptions { Format = AsyncReportFormat.Json });
return await Bugs.Scenarios.Runner.RunAsync(args);
