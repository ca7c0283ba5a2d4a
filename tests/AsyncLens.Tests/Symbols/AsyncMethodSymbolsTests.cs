using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Symbols;
using Xunit;

namespace AsyncLens.Tests.Symbols;

/// <summary>Await lines come from the portable PDB: the async stepping record on MoveNext, N-th entry for state N.</summary>
public sealed class AsyncMethodSymbolsTests
{

    private static async Task<int> ThreeAwaits()
    {
        await Task.Yield(); // state 0
        var a = await Task.FromResult(1); // state 1
        await Task.Delay(1); // state 2
        return a;
    }

    private static int LineOf(string text)
    {
        var lines = File.ReadAllLines(Path.Combine(Testing.Repo.Root, "tests", "AsyncLens.Tests", "Symbols", "AsyncMethodSymbolsTests.cs"));
        return Array.FindIndex(lines, l => l.Contains(text, StringComparison.Ordinal)) + 1;
    }

    [Fact]
    public void Each_state_maps_to_the_line_of_its_await()
    {
        var machine = typeof(AsyncMethodSymbolsTests).GetMethod(nameof(ThreeAwaits), BindingFlags.NonPublic | BindingFlags.Static)!
            .GetCustomAttribute<StateMachineAttribute>()!.StateMachineType;
        var symbols = AsyncMethodSymbols.For(machine);
        Assert.True(symbols.HasLines);
        Assert.Equal(LineOf("// state 0"), symbols.AwaitLocation(0)?.Line);
        Assert.Equal(LineOf("// state 1"), symbols.AwaitLocation(1)?.Line);
        Assert.Equal(LineOf("// state 2"), symbols.AwaitLocation(2)?.Line);
        Assert.Null(symbols.AwaitLocation(3));
        Assert.Null(symbols.AwaitLocation(-1));
        Assert.EndsWith("AsyncMethodSymbolsTests.cs", symbols.AwaitLocation(0)?.File);
        Assert.Equal("AsyncMethodSymbolsTests.ThreeAwaits()", symbols.Name);
    }

    [Fact]
    public void A_method_of_an_assembly_without_a_pdb_gets_a_name_and_no_lines()
    {
        // System.Private.CoreLib ships without a PDB next to it.
        var machine = typeof(Stream).Assembly.GetTypes().First(t => MethodNames.IsStateMachine(t) && t.DeclaringType == typeof(Stream) && t.Name.Contains("CopyToAsync"));
        var symbols = AsyncMethodSymbols.For(machine);
        Assert.False(symbols.HasLines);
        Assert.Null(symbols.AwaitLocation(0));
        Assert.StartsWith("Stream.", symbols.Name);
        Assert.False(symbols.IsUserCode);
    }
}
