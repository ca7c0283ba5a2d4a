using System.Reflection;
using AsyncLens.Inventory;
using AsyncLens.Runtime;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Tests.Runtime;

/// <summary>
/// The runtime's private layout (<see cref="RuntimeLayout"/>) resolved on the runtime running this test: every type and
/// field both readers use, the task state flags and the state machine's states. A runtime that renamed one fails here,
/// with the name, instead of leaving the in-process and outside readers quietly blind.
/// </summary>
public sealed class RuntimeLayoutTests
{
    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
    private const BindingFlags Static = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;

    [Fact]
    public void Every_private_type_and_field_resolves_on_this_runtime()
    {
        var missing = new List<string>();
        foreach (var entry in RuntimeLayout.Types)
        {
            // A group a later runtime brings (.NET 11's runtime-async chains) is required from that runtime on; a name a
            // later runtime changed, up to it.
            if (entry.Since > Environment.Version.Major || entry.Until != 0 && entry.Until < Environment.Version.Major)
                continue;
            var types = Assembly.Load(entry.Assembly).GetTypes().Where(t => RuntimeNames.Definition(t) == entry.Name).ToList();
            if (types.Count == 0)
            {
                missing.Add($"type {entry.Name} ({entry.Assembly})");
                continue;
            }
            missing.AddRange(entry.Fields.Where(f => !types.Any(t => Declares(t, f, Instance))).Select(f => $"field {entry.Name}.{f}"));
            missing.AddRange((entry.StaticFields ?? []).Where(f => !types.Any(t => Declares(t, f, Static))).Select(f => $"static field {entry.Name}.{f}"));
            missing.AddRange((entry.Methods ?? []).Where(m => !types.Any(t => t.GetMethods(Static).Any(x => x.Name == m))).Select(m => $"static method {entry.Name}.{m}"));
        }
        Assert.True(missing.Count == 0,
            $"the runtime's private layout changed (running .NET {Environment.Version}; src/AsyncLens/Runtime/Layout was checked on {RuntimeLayout.CheckedOn}):\n"
            + string.Join("\n", missing));
        Assert.True(RuntimeLayout.Types.Count > 30);
    }

    [Fact]
    public void The_runtime_async_group_is_required_from_the_runtime_that_has_it()
    {
        var group = RuntimeLayout.Types.Where(t => t.Since == RuntimeAsyncLayout.Since).ToList();
        Assert.Contains(group, t => t.Name == RuntimeAsyncLayout.ContinuationType);
        Assert.Contains(group, t => t.Name == RuntimeAsyncLayout.TaskType);
        Assert.All(RuntimeLayout.Types.Where(t => t.Since == 0), t => Assert.DoesNotContain(t, group));
        // .NET 10 has a part of it (runtime async was an experiment there; its BCL is compiled without it): not required
        // there, and the reader of the chains stays off. From .NET 11 it must have all it reads.
        Assert.Equal(Environment.Version.Major >= RuntimeAsyncLayout.Since, RuntimeAsyncChains.IsAvailable);
    }

    [Fact]
    public void The_definition_name_is_the_same_from_reflection_and_from_the_runtime()
    {
        Assert.Equal(StateMachineLayout.TaskBoxType, RuntimeNames.Definition(
            "System.Runtime.CompilerServices.AsyncTaskMethodBuilder<System.String>+AsyncStateMachineBox<Store+<LoadAsync>d__1<System.String>>"));
        Assert.Equal(StateMachineLayout.TaskBoxType, RuntimeNames.Definition(typeof(System.Runtime.CompilerServices.AsyncTaskMethodBuilder<>).Assembly
            .GetType("System.Runtime.CompilerServices.AsyncTaskMethodBuilder`1+AsyncStateMachineBox`1")!));
        Assert.Equal("Shop+<Main>d__0", RuntimeNames.Definition("Shop+<Main>d__0"));
        Assert.Equal("Outer+Inner+<LoadAsync>d__0", RuntimeNames.Definition("Outer<System.Int32>+Inner+<LoadAsync>d__0<System.Guid>"));
        Assert.Equal(TaskLayout.Type, RuntimeNames.Definition(typeof(Task<int>)));
    }

    [Fact]
    public async Task Task_state_flags_mean_what_the_layout_says()
    {
        var flags = TaskLayout.Flags.Completed | TaskLayout.Flags.Started;
        Assert.NotEqual(0, TaskInternals.Flags(Task.CompletedTask) & flags);
        Assert.NotEqual(0, TaskInternals.Flags(Task.FromResult(42)) & TaskLayout.Flags.RanToCompletion);
        Assert.NotEqual(0, TaskInternals.Flags(Task.FromException(new InvalidOperationException())) & TaskLayout.Flags.Faulted);
        Assert.NotEqual(0, TaskInternals.Flags(Task.FromCanceled(new CancellationToken(canceled: true))) & TaskLayout.Flags.Canceled);

        using var started = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var running = Task.Run(() =>
        {
            started.Set();
            release.Wait();
        });
        started.Wait();
        Assert.True(TaskLayout.Flags.IsRunning(TaskInternals.Flags(running)));
        Assert.False(TaskLayout.Flags.IsCompleted(TaskInternals.Flags(running)));

        var antecedent = new TaskCompletionSource();
        var continuation = antecedent.Task.ContinueWith(_ => { }, TaskScheduler.Default);
        var waiting = TaskInternals.Flags(continuation);
        Assert.Equal(TaskStatus.WaitingForActivation, continuation.Status);
        Assert.NotEqual(0, waiting & TaskLayout.Flags.WaitingForActivation);
        Assert.Equal(0, waiting & (TaskLayout.Flags.Started | TaskLayout.Flags.Completed));

        // new Task(...) never started (Akka.NET keeps its termination callbacks so): neither queued nor waiting, and read so.
        var created = new Task(() => { });
        Assert.True(TaskLayout.Flags.IsCreated(TaskInternals.Flags(created)));
        Assert.False(TaskLayout.Flags.IsCreated(TaskInternals.Flags(continuation)));
        Assert.False(TaskLayout.Flags.IsCreated(TaskInternals.Flags(running)));
        Assert.Equal((NodeKind.DelegateTask, $"new Task({MethodNames.Format(TaskInternals.Action(created)!.Method)})"), NodeLabels.Classify(created));

        release.Set();
        antecedent.SetResult();
        await Task.WhenAll(running, continuation);
        Assert.True(TaskLayout.Flags.IsCompleted(TaskInternals.Flags(running)));
        Assert.False(TaskLayout.Flags.IsCreated(TaskInternals.Flags(running)));
    }

    [Fact]
    public void A_value_tasks_AsTask_is_named_by_the_source_it_waits_for()
    {
        // As Orleans' generated grain calls do (`.AsTask()` of its response source): was "ValueTask<int>.ValueTaskSourceAsTask".
        var pending = new ValueTask<int>(new NeverSource(), 0).AsTask();
        Assert.Equal((NodeKind.Awaited, "RuntimeLayoutTests.NeverSource"), NodeLabels.Classify(pending));
        var untyped = new ValueTask(new NeverSource(), 0).AsTask();
        Assert.Equal((NodeKind.Awaited, "RuntimeLayoutTests.NeverSource"), NodeLabels.Classify(untyped));
    }

    private sealed class NeverSource : System.Threading.Tasks.Sources.IValueTaskSource<int>, System.Threading.Tasks.Sources.IValueTaskSource
    {
        public System.Threading.Tasks.Sources.ValueTaskSourceStatus GetStatus(short token) => System.Threading.Tasks.Sources.ValueTaskSourceStatus.Pending;

        public void OnCompleted(Action<object?> continuation, object? state, short token, System.Threading.Tasks.Sources.ValueTaskSourceOnCompletedFlags flags)
        {
        }

        public int GetResult(short token) => throw new InvalidOperationException("never completes");

        void System.Threading.Tasks.Sources.IValueTaskSource.GetResult(short token) => throw new InvalidOperationException("never completes");
    }

    private static Task? s_box;
    private static int s_stateWhileRunning = AsyncState.Unknown;

    private static async Task<int> ParkOnce(Task gate)
    {
        await gate;
        s_stateWhileRunning = StateOf(s_box!);
        return 1;
    }

    [Fact]
    public async Task The_state_machine_states_mean_what_the_layout_says()
    {
        var gate = new TaskCompletionSource();
        var box = ParkOnce(gate.Task);
        s_box = box;
        var info = BoxInfo.Of(box);
        Assert.NotNull(info);
        Assert.Equal(0, StateOf(box));
        Assert.True(AsyncState.IsParked(info.ReadState(box)));
        Assert.Same(gate.Task, info.Awaited(box));
        var machine = StateMachine(box)!;

        gate.SetResult();
        await box;
        Assert.Equal(AsyncState.Running, s_stateWhileRunning);
        if (machine.GetType().IsValueType)
        {
            Assert.Equal(AsyncState.Done, StateOf(box)); // a struct state machine stays in its box
        }
        else
        {
            Assert.Null(StateMachine(box)); // a class one (Debug builds) is dropped: its box no longer says where it was
            Assert.Equal(AsyncState.Done, (int)machine.GetType().GetField(StateMachineLayout.State, Instance)!.GetValue(machine)!);
        }
    }

    private static async IAsyncEnumerable<int> YieldTwice()
    {
        yield return 1;
        await Task.Yield();
        yield return 2;
    }

    [Fact]
    public async Task An_async_iterator_paused_at_yield_return_is_below_done()
    {
        var iterator = YieldTwice().GetAsyncEnumerator();
        Assert.True(await iterator.MoveNextAsync());
        var type = iterator.GetType();
        Assert.NotNull(type.GetField(StateMachineLayout.IteratorPromise, Instance));
        Assert.NotNull(type.GetField(StateMachineLayout.Builder, Instance)?.FieldType.GetField(StateMachineLayout.IteratorBuilderTask, Instance));
        Assert.True(AsyncState.IsPausedIterator((int)type.GetField(StateMachineLayout.State, Instance)!.GetValue(iterator)!));
        await iterator.DisposeAsync();
    }

    private static object? StateMachine(Task box) =>
        box.GetType().GetField(StateMachineLayout.BoxStateMachine, BindingFlags.Instance | BindingFlags.Public)!.GetValue(box);

    private static int StateOf(Task box) =>
        StateMachine(box) is { } machine ? (int)machine.GetType().GetField(StateMachineLayout.State, Instance)!.GetValue(machine)! : AsyncState.Unknown;

    [Fact]
    public void A_name_a_later_runtime_changed_resolves_under_its_new_name_there()
    {
        // .NET 11 renamed the pool's per-thread count of completed work items (t_completionCountObject, t_completionCountNode):
        // read under the old name there, no request or handler frame was seen to end with its work item. The tests run on
        // .NET 10: .NET 11.0.0's CoreLib is read as metadata.
        var renamed = RuntimeLayout.Types.Where(t => t.Until != 0).ToList();
        Assert.NotEmpty(renamed);
        Assert.Equal("net11", TargetRuntime.Net11.Name); // laid out on first use
        foreach (var old in renamed)
        {
            Assert.Equal(11, old.Until + 1); // the one later runtime laid out here
            var fields = FieldsIn(Path.Combine(TargetRuntime.Net11Root, "shared", "Microsoft.NETCore.App", "11.0.0", old.Assembly + ".dll"), old.Name);
            var successors = RuntimeLayout.Types.Where(t => t.Name == old.Name && t.Since == old.Until + 1).ToList();
            Assert.NotEmpty(successors);
            foreach (var successor in successors)
                Assert.All(successor.Fields.Concat(successor.StaticFields ?? []), f => Assert.Contains(f, fields));
            Assert.All(old.Fields.Concat(old.StaticFields ?? []), f => Assert.DoesNotContain(f, fields));
        }
    }

    // The fields a type of an assembly file declares, by the type's definition name, read as metadata.
    private static HashSet<string> FieldsIn(string assembly, string typeName)
    {
        using var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(assembly));
        var metadata = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
        foreach (var handle in metadata.TypeDefinitions)
        {
            var type = metadata.GetTypeDefinition(handle);
            if (RuntimeNames.Definition(FullName(metadata, type)) == typeName)
                return type.GetFields().Select(f => metadata.GetString(metadata.GetFieldDefinition(f).Name)).ToHashSet();
        }
        throw new Xunit.Sdk.XunitException($"no type {typeName} in {assembly}");

        static string FullName(System.Reflection.Metadata.MetadataReader metadata, System.Reflection.Metadata.TypeDefinition type)
        {
            var name = metadata.GetString(type.Name);
            if (type.GetDeclaringType() is { IsNil: false } declaring)
                return FullName(metadata, metadata.GetTypeDefinition(declaring)) + "+" + name;
            return type.Namespace.IsNil ? name : metadata.GetString(type.Namespace) + "." + name;
        }
    }

    private static bool Declares(Type type, string field, BindingFlags flags)
    {
        for (var t = type; t is not null; t = t.BaseType)
        {
            if (t.GetField(field, flags) is not null)
                return true;
        }
        return false;
    }
}
