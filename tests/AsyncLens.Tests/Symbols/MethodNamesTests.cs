using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Symbols;
using Xunit;

namespace AsyncLens.Tests.Symbols;

/// <summary>Names as a person reads them: the method the user wrote, not the compiler's state machine.</summary>
public sealed class MethodNamesTests
{
    private static Type StateMachineOf(Type owner, string method) =>
        owner.GetMethod(method, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static)!
            .GetCustomAttribute<StateMachineAttribute>()!.StateMachineType;

    [Fact]
    public void An_async_method_is_named_by_its_class_name_and_parameter_types()
    {
        Assert.Equal("Shop.FetchUser(int, string)", MethodNames.ForStateMachine(StateMachineOf(typeof(Shop), nameof(Shop.FetchUser))));
    }

    [Fact]
    public void Nested_classes_are_named_outer_first()
    {
        Assert.Equal("Shop.Cart.CheckoutAsync(decimal?, int[], (int, string))",
            MethodNames.ForStateMachine(StateMachineOf(typeof(Shop.Cart), nameof(Shop.Cart.CheckoutAsync))));
    }

    [Fact]
    public void A_generic_method_shows_its_type_arguments()
    {
        var open = StateMachineOf(typeof(Shop), nameof(Shop.LoadAsync));
        Assert.Equal("Shop.LoadAsync<T>(T, List<T>)", MethodNames.ForStateMachine(open));
        Assert.Equal("Shop.LoadAsync<string>(string, List<string>)", MethodNames.ForStateMachine(open.MakeGenericType(typeof(string))));
    }

    [Fact]
    public void A_method_of_a_generic_class_shows_the_class_arguments()
    {
        var open = StateMachineOf(typeof(Cache<>), nameof(Cache<int>.GetAsync));
        Assert.Equal("Cache<int>.GetAsync(int, CancellationToken)", MethodNames.ForStateMachine(open.MakeGenericType(typeof(int))));
    }

    [Fact]
    public void Ref_and_out_parameters_say_so()
    {
        Assert.Equal("Shop.TryParse(string, out int, ref long)", MethodNames.Format(typeof(Shop).GetMethod(nameof(Shop.TryParse))!));
    }

    [Fact]
    public void A_lambda_is_named_after_the_method_that_contains_it_and_its_line()
    {
        var line = LineHere() + 1;
        Func<int, Task> lambda = async x => await Task.Delay(x);
        Func<int, int> twice = x =>
        {
            return 2 * x;
        };
        Assert.Equal($"MethodNamesTests.A_lambda_is_named_after_the_method_that_contains_it_and_its_line lambda at MethodNamesTests.cs:{line}", MethodNames.Format(lambda.Method));
        // An async lambda's state machine is named the same; a block lambda by its body's first line (its brace, in Debug).
        Assert.Equal(MethodNames.Format(lambda.Method), MethodNames.ForStateMachine(lambda.Method.GetCustomAttribute<StateMachineAttribute>()!.StateMachineType));
        Assert.Equal($"MethodNamesTests.A_lambda_is_named_after_the_method_that_contains_it_and_its_line lambda at MethodNamesTests.cs:{line + 2}", MethodNames.Format(twice.Method));
    }

    private static int LineHere([CallerLineNumber] int line = 0) => line;

    [Fact]
    public void A_lambda_in_a_constructor_is_named_after_its_type()
    {
        var handler = new Handler();
        Assert.Equal($"MethodNamesTests.Handler constructor lambda at MethodNamesTests.cs:{handler.Line}", MethodNames.Format(handler.OnMessage.Method));
    }

    // As an Akka.NET actor registers its handlers: `Receive<T>(message => ...)` in its constructor (was "Handler..ctor lambda").
    private sealed class Handler
    {
        public Handler()
        {
            Line = LineHere() + 1;
            OnMessage = message => Console.Out.WriteLine(message);
        }

        public int Line { get; }

        public Action<string> OnMessage { get; }
    }

    [Fact]
    public void A_local_function_is_named_by_its_own_name()
    {
        static async Task<int> Local(string text)
        {
            await Task.Yield();
            return text.Length;
        }

        Func<string, Task<int>> local = Local;
        Assert.Equal("MethodNamesTests.A_local_function_is_named_by_its_own_name()+Local(string)", MethodNames.Format(local.Method));
        Assert.Equal("MethodNamesTests.A_local_function_is_named_by_its_own_name()+Local(string)",
            MethodNames.ForStateMachine(local.Method.GetCustomAttribute<StateMachineAttribute>()!.StateMachineType));
    }

    [Fact]
    public void A_MoveNext_frame_is_named_after_its_async_method()
    {
        var moveNext = StateMachineOf(typeof(Shop), nameof(Shop.FetchUser)).GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)!;
        Assert.Equal("Shop.FetchUser(int, string)", MethodNames.Format(moveNext));
    }

    [Fact]
    public void A_name_too_long_for_a_line_keeps_its_outer_brackets_and_loses_what_is_nested_in_them()
    {
        // Polly 8's retry strategy, as an outside read of a service using a resilience pipeline named it (812 characters).
        const string Funcs = "Func<ResilienceContext, (PipelineComponent, Func<ResilienceContext, Func<CancellationToken, ValueTask<int>>, ValueTask<Outcome<int>>>, Func<CancellationToken, ValueTask<int>>), ValueTask<Outcome<int>>>";
        const string State = "(PipelineComponent, Func<ResilienceContext, Func<CancellationToken, ValueTask<int>>, ValueTask<Outcome<int>>>, Func<CancellationToken, ValueTask<int>>)";
        var name = $"RetryResilienceStrategy<object>.ExecuteCore<({Funcs}, {State})>(Func<ResilienceContext, ({Funcs}, {State}), ValueTask<Outcome<object>>>, ResilienceContext, ({Funcs}, {State}))";

        Assert.Equal("RetryResilienceStrategy<object>.ExecuteCore<(…)>(Func<…>, ResilienceContext, (…))", MethodNames.Compact(name));
        // One level is enough when it fits; a name that fits is left alone.
        Assert.Equal("Outer<A>.Run<(…)>(Func<…>, int)", MethodNames.Compact("Outer<A>.Run<(Func<string, int>, Func<int, string>)>(Func<string, Task<int>>, int)", max: 40));
        Assert.Equal("Shop.FetchUser(int)", MethodNames.Compact("Shop.FetchUser(int)"));
    }
}

internal sealed class Shop
{
    public async Task<int> FetchUser(int id, string name)
    {
        await Task.Yield();
        return id + name.Length;
    }

    public static async Task<T> LoadAsync<T>(T seed, List<T> into)
    {
        await Task.Yield();
        into.Add(seed);
        return seed;
    }

    public static bool TryParse(string text, out int value, ref long total)
    {
        total++;
        return int.TryParse(text, out value);
    }

    public sealed class Cart
    {
        public async ValueTask CheckoutAsync(decimal? discount, int[] items, (int Id, string Sku) first)
        {
            await Task.Yield();
            GC.KeepAlive((discount, items, first));
        }
    }
}

internal sealed class Cache<TKey>
    where TKey : notnull
{
    public async Task<string> GetAsync(TKey key, CancellationToken cancel)
    {
        await Task.Delay(1, cancel);
        return key.ToString() ?? "";
    }
}
