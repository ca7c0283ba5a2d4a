namespace AsyncLens.Testing;

/// <summary>What tests/Targets/Chains parks, as the tree dump shows it: the same text in process and read from outside.</summary>
internal static class ChainsTrees
{
    /// <summary>The tree under the Task.WhenAll of Scenario.Start(), lines from <paramref name="at"/> (a marker tag to "file:line").</summary>
    public static string Scenario(Func<string, string> at) =>
        $$"""
        Task.WhenAll (12 pending)
        ├── Feeds.ConsumeAsync() at {{at("chains.consume")}}
        │   └── Feeds.ReadAsync() at {{at("chains.feed")}}
        │       └── TaskCompletionSource <- a thread is blocked waiting for it
        ├── Network.AcceptAsync() at {{at("chains.accept")}}
        │   └── socket I/O
        ├── Outer.Inner.LoadAsync<Guid>() at {{at("chains.generic")}}
        │   └── TaskCompletionSource <- a thread is blocked waiting for it
        ├── Pooled.CallerAsync() at {{at("chains.pooled-caller")}}
        │   └── Pooled.WaitAsync() at {{at("chains.pooled")}}
        │       └── TaskCompletionSource <- a thread is blocked waiting for it
        ├── Recursive.DescendAsync(int) at {{at("chains.recursion")}}
        │   └── Recursive.DescendAsync(int) at {{at("chains.recursion")}}
        │       └── Recursive.DescendAsync(int) at {{at("chains.recursion")}}
        │           └── Recursive.DescendAsync(int) at {{at("chains.recursion-bottom")}}
        │               └── TaskCompletionSource <- a thread is blocked waiting for it
        ├── Requests.FloodAsync(int) at {{at("chains.flood")}}
        │   └── Task.WhenAll (1000 pending)
        │       └── Requests.ProcessAsync(int) at {{at("chains.process")}} x1000
        │           └── Requests.QueryAsync(int) at {{at("chains.query")}}
        │               └── Task.Delay
        ├── Server.ServeAsync() at {{at("chains.serve")}}
        │   └── Task.WhenAll (3 pending)
        │       ├── Server.HandleAsync(int) at {{at("chains.handle-fetch")}} x2
        │       │   └── Store.FetchAsync(int) at {{at("chains.fetch")}}
        │       │       └── TaskCompletionSource <- a thread is blocked waiting for it
        │       └── Server.HandleAsync(int) at {{at("chains.handle-semaphore")}}
        │           └── SemaphoreSlim.WaitAsync
        ├── Shapes.ConfiguredAsync() at {{at("chains.configured")}}
        │   └── TaskCompletionSource <- a thread is blocked waiting for it
        ├── Shapes.LambdaAndLocalAsync() at {{at("chains.shapes")}}
        │   └── Task.WhenAll (2 pending)
        │       ├── Shapes.LambdaAndLocalAsync lambda at {{Path.GetFileName(at("chains.lambda"))}} at {{at("chains.lambda")}}
        │       │   └── TaskCompletionSource <- a thread is blocked waiting for it
        │       └── Shapes.LambdaAndLocalAsync()+LocalAsync(string) at {{at("chains.local")}}
        │           └── TaskCompletionSource <- a thread is blocked waiting for it
        ├── Shapes.ValueTaskAsync() at {{at("chains.valuetask")}}
        │   └── TaskCompletionSource <- a thread is blocked waiting for it
        ├── Task.Run
        │   └── Scenario.Start lambda at {{Path.GetFileName(at("chains.run-lambda.body"))}} at {{at("chains.run-lambda")}}
        │       └── TaskCompletionSource <- a thread is blocked waiting for it
        └── Task.Run(Scenario.Start lambda at {{Path.GetFileName(at("chains.run-blocking"))}}) at {{at("chains.run-blocking")}} (running)
        """;
}
