if (args.Contains("--in-code"))
    AsyncLens.AsyncDebug.Enable(new AsyncLens.AsyncDebugOptions { Format = AsyncLens.AsyncReportFormat.Json });
return await Patterns.Scenarios.Runner.RunAsync([.. args.Where(a => a != "--in-code")]);
