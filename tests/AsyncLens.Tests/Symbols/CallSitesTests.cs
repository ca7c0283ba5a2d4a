using System.Reflection;
using AsyncLens.Symbols;
using Xunit;

namespace AsyncLens.Tests.Symbols;

/// <summary>The one place that calls a method, read from the IL of this test assembly.</summary>
public sealed class CallSitesTests
{
    [Fact]
    public void A_method_called_from_one_place_has_that_place_as_its_caller()
    {
        var (caller, offset) = CallSites.OnlyCallerOf(Method(nameof(CalledOnce)))!.Value;
        Assert.Equal(nameof(Caller), caller.Name);
        Assert.Contains(MethodSymbols.Calls(caller), c => c.Offset == offset && c.Target.Name == nameof(CalledOnce));
    }

    [Fact]
    public void A_method_called_from_two_places_or_from_none_has_no_one_caller()
    {
        Assert.Null(CallSites.OnlyCallerOf(Method(nameof(CalledTwice))));
        Assert.Null(CallSites.OnlyCallerOf(Method(nameof(NeverCalled))));
    }

    [Fact]
    public void A_method_called_twice_on_one_line_has_that_line_as_its_caller_and_twice_on_two_lines_none()
    {
        var (caller, offset) = CallSites.OnlyCallerOf(Method(nameof(CalledTwiceOnOneLine)))!.Value;
        Assert.Equal(nameof(CallerOfOneLine), caller.Name);
        Assert.Equal(MethodSymbols.Calls(caller).First(c => c.Target.Name == nameof(CalledTwiceOnOneLine)).Offset, offset);
        Assert.Null(CallSites.OnlyCallerOf(Method(nameof(CalledTwiceOnTwoLines))));
    }

    [Fact]
    public void A_method_made_into_a_delegate_once_has_that_place_as_its_caller()
    {
        Assert.Equal(nameof(MakesDelegate), CallSites.OnlyCallerOf(Method(nameof(UsedAsDelegate)))!.Value.Method.Name);
    }

    private static MethodInfo Method(string name) => typeof(CallSitesTests).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!;

    private static int Caller() => CalledOnce() + CalledTwice();

    private static int OtherCaller() => CalledTwice();

    private static Func<int> MakesDelegate() => UsedAsDelegate;

    private static int CallerOfOneLine() => CalledTwiceOnOneLine(1) + CalledTwiceOnOneLine(2);

    private static int CallerOfTwoLines()
    {
        var a = CalledTwiceOnTwoLines(1);
        return a + CalledTwiceOnTwoLines(2);
    }

    private static int CalledTwiceOnOneLine(int x) => x;

    private static int CalledTwiceOnTwoLines(int x) => x;

    private static int CalledOnce() => 1;

    private static int CalledTwice() => 2;

    private static int NeverCalled() => 3;

    private static int UsedAsDelegate() => 4;
}
