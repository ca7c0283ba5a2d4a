using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Attribution;
using AsyncLens.Symbols;
using Xunit;

namespace AsyncLens.Tests.Attribution;

/// <summary>
/// Whether a stretch of an async method has code that could take a slow step's time, read from the IL of methods
/// compiled into this test assembly (resumed from their first await, to their end).
/// </summary>
public sealed class StretchCodeTests
{
    [Fact]
    public void Resuming_from_a_yield_to_return_a_value_cannot_take_long()
    {
        Assert.True(CannotTakeLong(nameof(YieldThenReturn)));
        Assert.True(CannotTakeLong(nameof(AwaitThenAdd)));
    }

    [Fact]
    public void A_call_or_a_loop_in_the_stretch_could()
    {
        Assert.False(CannotTakeLong(nameof(YieldThenSleep)));
        Assert.False(CannotTakeLong(nameof(YieldThenLoop)));
        Assert.False(CannotTakeLong(nameof(YieldThenLock)));
    }

    private static bool CannotTakeLong(string name)
    {
        var method = typeof(StretchCodeTests).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!;
        var symbols = AsyncMethodSymbols.For(method.GetCustomAttribute<AsyncStateMachineAttribute>()!.StateMachineType);
        return StretchCode.CannotTakeLong(symbols.MoveNext!, symbols.StepRange(0, -2));
    }

    private static readonly object s_gate = new();
    private static int s_total;

    private static async Task<int> YieldThenReturn(int i)
    {
        await Task.Yield();
        return i;
    }

    private static async Task<int> AwaitThenAdd(Task<int> other, int i)
    {
        var value = await other.ConfigureAwait(false);
        return value + i;
    }

    private static async Task YieldThenSleep()
    {
        await Task.Yield();
        Thread.Sleep(1);
    }

    private static async Task<long> YieldThenLoop(int n)
    {
        await Task.Yield();
        long sum = 0;
        for (var i = 0; i < n; i++)
            sum += i;
        return sum;
    }

    private static async Task YieldThenLock()
    {
        await Task.Yield();
        lock (s_gate)
            s_total++;
    }
}
