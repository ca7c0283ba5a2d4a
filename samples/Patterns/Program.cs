// The asyncio chapter's four bug patterns, in C#: `dotnet run --project samples/Patterns -- PATTERN bug|fixed`
// (PATTERN: gather, forget, shield, loop, async-void). Under debug mode (`asynclens run -- dotnet Patterns.dll ...`) the
// bug is reported as it happens; the fixed form, with AsyncLens's helpers, is not.
using PatternSamples;

var patterns = new Dictionary<string, Func<bool, Task>>
{
    ["gather"] = Gather.RunAsync,
    ["forget"] = FireAndForget.RunAsync,
    ["shield"] = Shield.RunAsync,
    ["loop"] = EventLoop.RunAsync,
    ["async-void"] = AsyncVoidHandler.RunAsync,
};
if (args.Length != 2 || !patterns.TryGetValue(args[0], out var run) || args[1] is not ("bug" or "fixed"))
{
    Console.Error.WriteLine($"usage: Patterns {string.Join('|', patterns.Keys)} bug|fixed");
    return 2;
}
await run(args[1] == "fixed");
return 0;
