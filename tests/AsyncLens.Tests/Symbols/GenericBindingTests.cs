using System.Reflection;
using AsyncLens.Runtime;
using AsyncLens.Symbols;
using Xunit;

namespace AsyncLens.Tests.Symbols;

/// <summary>
/// The instantiation of shared generic code (a .NET 11 runtime-async frame names only its definition): bound from the
/// types of the objects a frame holds, and between a caller and the callee its IL calls. The shapes are Kestrel's
/// (a connection generic in its context, a request loop generic in TContext calling through an interface whose method
/// a base class implements).
/// </summary>
public sealed class GenericBindingTests
{
    private const BindingFlags Any = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;

    [Fact]
    public void A_method_parameter_is_bound_through_an_interface_a_held_object_implements()
    {
        var method = Method(typeof(GenericBindingTests), nameof(Loop));
        var context = GenericBinding.Of(method, [typeof(CancellationTokenSource), typeof(HostApp)]);
        Assert.Equal("GenericBindingTests.Loop<GenericBindingTests.Ctx>(GenericBindingTests.IApp<GenericBindingTests.Ctx>)", MethodNames.Format(method, context));
    }

    [Fact]
    public void This_binds_its_types_parameters()
    {
        var method = Method(typeof(Connection<>), nameof(Connection<object>.ExecuteAsync));
        var context = GenericBinding.Of(method, [typeof(string), typeof(Connection<Ctx>)]);
        Assert.Equal("GenericBindingTests.Connection<GenericBindingTests.Ctx>.ExecuteAsync()", MethodNames.Format(method, context));
    }

    [Fact]
    public void A_parameter_typed_as_a_bare_T_tells_nothing_and_two_objects_that_disagree_bind_nothing()
    {
        Assert.Equal(default, GenericBinding.Of(Method(typeof(GenericBindingTests), nameof(Hold)), [typeof(Ctx)]));
        var method = Method(typeof(GenericBindingTests), nameof(Loop));
        var context = GenericBinding.Of(method, [typeof(HostApp), typeof(OtherApp)]);
        Assert.Equal("GenericBindingTests.Loop<TContext>(GenericBindingTests.IApp<TContext>)", MethodNames.Format(method, context));
    }

    [Fact]
    public void A_callee_bound_by_its_objects_binds_its_caller_through_the_call_and_the_reverse()
    {
        var caller = Method(typeof(GenericBindingTests), nameof(Outer));
        var callee = Method(typeof(GenericBindingTests), nameof(Loop));
        var suspended = SuspendedAfterCallOf(caller, callee.Name);
        var chain = new List<(MethodBase, int, GenericContext)> { (caller, suspended, default), (callee, 0, GenericBinding.Of(callee, [typeof(HostApp)])) };
        GenericBinding.Propagate(chain);
        Assert.Equal("GenericBindingTests.Outer<GenericBindingTests.Ctx>(GenericBindingTests.IApp<GenericBindingTests.Ctx>)", MethodNames.Format(caller, chain[0].Item3));

        chain = [(caller, suspended, GenericBinding.Of(caller, [typeof(HostApp)])), (callee, 0, default)];
        GenericBinding.Propagate(chain);
        Assert.Equal("GenericBindingTests.Loop<GenericBindingTests.Ctx>(GenericBindingTests.IApp<GenericBindingTests.Ctx>)", MethodNames.Format(callee, chain[1].Item3));
    }

    [Fact]
    public void A_call_through_an_interface_reaches_the_base_class_method_that_implements_it_for_a_derived_class()
    {
        var caller = Method(typeof(GenericBindingTests), nameof(ThroughInterface));
        var callee = Method(typeof(ProtocolBase), nameof(ProtocolBase.ProcessAsync));
        var chain = new List<(MethodBase, int, GenericContext)>
        {
            (caller, SuspendedAfterCallOf(caller, callee.Name), default),
            (callee, 0, GenericBinding.Of(callee, [typeof(HostApp)])),
        };
        GenericBinding.Propagate(chain);
        Assert.Equal("GenericBindingTests.ThroughInterface<GenericBindingTests.Ctx>(GenericBindingTests.IProcessor, GenericBindingTests.IApp<GenericBindingTests.Ctx>)", MethodNames.Format(caller, chain[0].Item3));
    }

    [Fact]
    public void The_objects_an_object_holds_are_read_as_the_GC_finds_them()
    {
        var (a, b, c) = (new object(), "text", new List<int>());
        var held = new List<object>();
        HeldObjects.Read(new Derived(a, 7, b, c), held);
        Assert.Equal(3, held.Count);
        Assert.Contains(a, held);
        Assert.Contains(b, held);
        Assert.Contains(c, held);
        HeldObjects.Read(new Derived(a, 7, null, null), held);
        Assert.Equal([a], held);
        HeldObjects.Read(new[] { a }, held); // arrays are not read
        Assert.Empty(held);
        HeldObjects.Read(new Ctx(), held);
        Assert.Empty(held);
    }

    private static MethodBase Method(Type type, string name) => type.GetMethods(Any).Single(m => m.Name == name);

    // The IL offset just past the call of the named method: where a suspended frame's resume point maps.
    private static int SuspendedAfterCallOf(MethodBase caller, string callee) =>
        IlReader.Calls(caller).Single(c => c.Target.Name == callee).Offset + 5;

    private static Task Loop<TContext>(IApp<TContext> app) => Task.FromResult(app);

    private static Task Hold<T>(T value) => Task.FromResult(value);

    private static Task Outer<TContext>(IApp<TContext> app) => Loop(app);

    private static Task ThroughInterface<TContext>(IProcessor processor, IApp<TContext> app) => processor.ProcessAsync(app);

    internal interface IApp<T>;

    internal sealed class Ctx;

    internal sealed class HostApp : IApp<Ctx>;

    internal sealed class OtherApp : IApp<string>;

    internal interface IProcessor
    {
        Task ProcessAsync<TContext>(IApp<TContext> app);
    }

    internal abstract class ProtocolBase
    {
        public Task ProcessAsync<TContext>(IApp<TContext> app) => Task.FromResult(app);
    }

    internal sealed class Protocol : ProtocolBase, IProcessor;

    internal sealed class Connection<T>
    {
        public Task ExecuteAsync() => Task.FromResult(this);
    }

    internal class Base(object a, int n)
    {
        public object A = a;
        public int N = n;
    }

    internal sealed class Derived(object a, int n, string? b, List<int>? c) : Base(a, n)
    {
        public string? B = b;
        public List<int>? C = c;
    }
}
