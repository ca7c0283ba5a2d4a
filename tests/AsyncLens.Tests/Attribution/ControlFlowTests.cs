using System.Reflection;
using System.Reflection.Emit;
using AsyncLens.Symbols;
using Xunit;

namespace AsyncLens.Tests.Attribution;

/// <summary>What ran between two IL offsets: on every path (certain), on some path (may have), or on none.</summary>
public sealed class ControlFlowTests
{
    // 00 ldarg.0; 01 brfalse.s 06; 03 nop (A); 04 br.s 07; 06 nop (B); 07 nop (C); 08 ret
    private static readonly byte[] s_diamond = [0x02, 0x2C, 0x03, 0x00, 0x2B, 0x01, 0x00, 0x00, 0x2A];

    [Fact]
    public void Both_sides_of_a_branch_may_have_run_and_what_follows_it_did()
    {
        var paths = ControlFlow.Of(s_diamond, [], []).Paths(0, [], [], withExceptions: false);
        Assert.True(paths.Ran(0x00));
        Assert.False(paths.Ran(0x03));
        Assert.True(paths.MayHaveRun(0x03));
        Assert.False(paths.Ran(0x06));
        Assert.True(paths.MayHaveRun(0x06));
        Assert.True(paths.Ran(0x07));
    }

    [Fact]
    public void Knowing_that_one_side_ran_settles_it_and_a_barrier_closes_the_other()
    {
        var flow = ControlFlow.Of(s_diamond, [], [0x03, 0x06]);
        var knowing = flow.Paths(0, [], [], withExceptions: false).Knowing(0x06);
        Assert.True(knowing.Ran(0x06));
        Assert.False(knowing.Ran(0x03));
        var barred = flow.Paths(0, [], [0x03], withExceptions: false);
        Assert.False(barred.MayHaveRun(0x03));
        Assert.True(barred.Ran(0x06));
    }

    [Fact]
    public void A_finally_left_through_runs_on_the_way_out_and_a_catch_only_after_a_throw()
    {
        // 00 nop; 01 leave.s 08 | try 00-03, finally 03-05: 03 nop; 04 endfinally | catch 05-08: 05 pop; 06 leave.s 08 | 08 ret
        byte[] il = [0x00, 0xDE, 0x05, 0x00, 0xDC, 0x26, 0xDE, 0x00, 0x2A];
        IlClause[] clauses =
        [
            new(ExceptionHandlingClauseOptions.Finally, 0x00, 0x03, 0x03, 0x05),
            new(ExceptionHandlingClauseOptions.Clause, 0x00, 0x03, 0x05, 0x08),
        ];
        var flow = ControlFlow.Of(il, clauses, []);
        var normal = flow.Paths(0, [], [], withExceptions: false);
        Assert.True(normal.Ran(0x03));
        Assert.False(normal.MayHaveRun(0x05));
        var thrown = flow.Paths(0, [], [], withExceptions: true);
        Assert.True(thrown.MayHaveRun(0x05));
        Assert.False(thrown.Ran(0x05));
    }

    [Fact]
    public void A_stretch_resumed_in_a_loop_does_not_reach_the_code_before_the_loop()
    {
        var machine = StretchLocatorTests.Machine(nameof(Samples.CountLoopAsync));
        var symbols = AsyncMethodSymbols.For(machine);
        var code = AsyncLens.Attribution.StretchCode.For(machine);
        var paths = code.Paths(1, 1, ongoing: false, threw: false)!;
        var calls = MethodSymbols.Calls(symbols.MoveNext!);
        var prepare = calls.Single(c => c.Target.Name == "PrepareAsync");
        var visits = calls.Single(c => c.Target.Name == "CountVisitsAsync");
        Assert.False(paths.MayHaveRun(prepare.Offset));
        Assert.True(paths.Ran(visits.Offset));
        // Its first step, from the start to the first await, is the other way round.
        var first = code.Paths(-1, 0, ongoing: false, threw: false)!;
        Assert.True(first.Ran(prepare.Offset));
        Assert.False(first.MayHaveRun(visits.Offset));
    }

    [Fact]
    public void Instructions_decode_branches_and_switches()
    {
        // 00 ldarg.0; 01 switch (2 targets: +0, +1); 0E nop; 0F ret
        byte[] il = [0x02, 0x45, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2A];
        var code = IlReader.Instructions(il);
        Assert.Equal(OpCodes.Switch, code[1].OpCode);
        Assert.Equal([0x0E, 0x0F], code[1].Targets);
        Assert.Equal(0x0E, code[1].Next);
    }
}
