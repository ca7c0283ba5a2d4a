namespace AsyncLens.Testing;

/// <summary>What tests/Targets/Chains parks, as the tree dump shows it: the same text in process and read from outside.</summary>
internal static class ChainsTrees
{
    /// <summary>
    /// The tree under the Task.WhenAll of Scenario.Start(), lines from <paramref name="at"/> (a marker tag to "file:line").
    /// The gate most chains wait for is one task awaited by each of them; read from <paramref name="outside"/>, the
    /// thread blocked in <c>Gate.Wait()</c> is one more of its waiters, under the Task.Run delegate it runs (its id
    /// written <c>Thread N</c>).
    /// </summary>
    public static string Scenario(Func<string, string> at, bool outside)
    {
        var gate = outside ? "TaskCompletionSource <- one task awaited by 12; a thread is blocked waiting for it" : "TaskCompletionSource <- one task awaited by 11; a thread is blocked waiting for it";
        var blocking = outside
            ? $$"""
              └── Task.Run(Scenario.Start lambda at {{Path.GetFileName(at("chains.run-blocking"))}}) at {{at("chains.run-blocking")}} (running)
                  └── Thread N, blocked in Scenario.Start lambda at {{Path.GetFileName(at("chains.run-blocking"))}} at {{at("chains.run-blocking-wait")}}
                      └── {{gate}}
              """
            : $"└── Task.Run(Scenario.Start lambda at {Path.GetFileName(at("chains.run-blocking"))}) at {at("chains.run-blocking")} (running)";
        return $$"""
        Task.WhenAll (12 pending)
        ├── Feeds.ConsumeAsync() at {{at("chains.consume")}}
        │   └── Feeds.ReadAsync() at {{at("chains.feed")}}
        │       └── {{gate}}
        ├── Network.AcceptAsync() at {{at("chains.accept")}}
        │   └── socket I/O
        ├── Outer.Inner.LoadAsync<Guid>() at {{at("chains.generic")}}
        │   └── {{gate}}
        ├── Pooled.CallerAsync() at {{at("chains.pooled-caller")}}
        │   └── Pooled.WaitAsync() at {{at("chains.pooled")}}
        │       └── {{gate}}
        ├── Recursive.DescendAsync(int) at {{at("chains.recursion")}}
        │   └── Recursive.DescendAsync(int) at {{at("chains.recursion")}}
        │       └── Recursive.DescendAsync(int) at {{at("chains.recursion")}}
        │           └── Recursive.DescendAsync(int) at {{at("chains.recursion-bottom")}}
        │               └── {{gate}}
        ├── Requests.FloodAsync(int) at {{at("chains.flood")}}
        │   └── Task.WhenAll (1000 pending)
        │       └── Requests.ProcessAsync(int) at {{at("chains.process")}} x1000
        │           └── Requests.QueryAsync(int) at {{at("chains.query")}}
        │               └── Task.Delay
        ├── Server.ServeAsync() at {{at("chains.serve")}}
        │   └── Task.WhenAll (3 pending)
        │       ├── Server.HandleAsync(int) at {{at("chains.handle-fetch")}} x2
        │       │   └── Store.FetchAsync(int) at {{at("chains.fetch")}}
        │       │       └── {{gate}}
        │       └── Server.HandleAsync(int) at {{at("chains.handle-semaphore")}}
        │           └── SemaphoreSlim.WaitAsync
        ├── Shapes.ConfiguredAsync() at {{at("chains.configured")}}
        │   └── {{gate}}
        ├── Shapes.LambdaAndLocalAsync() at {{at("chains.shapes")}}
        │   └── Task.WhenAll (2 pending)
        │       ├── Shapes.LambdaAndLocalAsync lambda at {{Path.GetFileName(at("chains.lambda"))}} at {{at("chains.lambda")}}
        │       │   └── {{gate}}
        │       └── Shapes.LambdaAndLocalAsync()+LocalAsync(string) at {{at("chains.local")}}
        │           └── {{gate}}
        ├── Shapes.ValueTaskAsync() at {{at("chains.valuetask")}}
        │   └── {{gate}}
        ├── Task.Run
        │   └── Scenario.Start lambda at {{Path.GetFileName(at("chains.run-lambda.body"))}} at {{at("chains.run-lambda")}}
        │       └── {{gate}}
        {{blocking}}
        """;
    }
}
