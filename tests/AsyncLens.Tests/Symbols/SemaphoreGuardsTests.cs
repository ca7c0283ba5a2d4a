using System.Reflection;
using System.Runtime.CompilerServices;
using AsyncLens.Runtime.Layout;
using AsyncLens.Symbols;
using Xunit;

namespace AsyncLens.Tests.Symbols;

/// <summary>
/// <see cref="SemaphoreGuards"/> on async methods compiled here (the IL of their MoveNext, as the compiler wrote it in
/// this build): a try whose finally releases a semaphore, and where that semaphore comes from.
/// </summary>
public sealed class SemaphoreGuardsTests
{
    [Fact]
    public void A_static_semaphore_released_in_a_finally()
    {
        var guard = Assert.Single(Guards(nameof(Holder.StaticAsync)));
        Assert.True(guard.Static);
        Assert.Equal("Holder.s_gate", guard.Name);
        Assert.NotNull(guard.AcquireOffset);
        Assert.True(guard.AcquireOffset < guard.TryStart && guard.TryStart < guard.ReleaseOffset);
    }

    [Fact]
    public void An_instance_semaphore_read_through_the_method_s_this()
    {
        var guard = Assert.Single(Guards(nameof(Holder.InstanceAsync)));
        Assert.False(guard.Static);
        Assert.Equal(["<>4__this", "_gate"], guard.Path.Select(f => f.Name));
        Assert.Equal("Holder._gate", guard.Name);
    }

    [Fact]
    public void A_local_semaphore_hoisted_into_the_state_machine_and_a_release_of_two()
    {
        var guard = Assert.Single(Guards(nameof(Holder.LocalAsync)));
        Assert.False(guard.Static);
        Assert.Equal("gate", guard.Name);
    }

    [Fact]
    public void Nested_guards_each_cover_their_own_try()
    {
        var guards = Guards(nameof(Holder.NestedAsync));
        Assert.Equal(["Holder.s_gate", "Holder._gate"], guards.OrderBy(g => g.TryStart).Select(g => g.Name));
        var (outer, inner) = (guards.MinBy(g => g.TryStart)!, guards.MaxBy(g => g.TryStart)!);
        Assert.True(outer.Covers(inner.TryStart) && !inner.Covers(outer.TryStart));
    }

    [Fact]
    public void A_release_outside_a_finally_or_of_something_else_is_no_guard()
    {
        Assert.Empty(Guards(nameof(Holder.NoFinallyAsync)));
        Assert.Empty(Guards(nameof(Holder.OtherFinallyAsync)));
    }

    [Fact]
    public void Synchronous_holders_of_locks_that_keep_no_owner_a_semaphore_a_read_lock_a_mutex()
    {
        var guards = SyncGuards(nameof(ThreadHolder.Hold));
        Assert.Equal([(LockLayout.SemaphoreType, "ThreadHolder.s_gate"), (LockLayout.ReaderWriterType, "ThreadHolder._table"), (LockLayout.MutexType, "ThreadHolder.s_one")],
            guards.OrderBy(g => g.TryStart).Select(g => (g.LockType, g.Name)));
        Assert.All(guards, g => Assert.True(g.AcquireOffset < g.TryStart && g.TryEnd <= g.ReleaseOffset, g.Name));
        Assert.Equal([true, false, true], guards.OrderBy(g => g.TryStart).Select(g => g.Static));
    }

    [Fact]
    public void A_lock_released_in_a_method_the_finally_calls_one_level_deep()
    {
        var guards = SyncGuards(nameof(ThreadHolder.ThroughHelpers)).OrderBy(g => g.TryStart).ToList();
        Assert.Equal([(LockLayout.SemaphoreType, true, "ThreadHolder.s_gate"), (LockLayout.ReaderWriterType, false, "ThreadHolder._table")],
            guards.Select(g => (g.LockType, g.Static, g.Name)));
        Assert.Equal(["_table"], guards[1].Path.Select(f => f.Name)); // from the holder's own `this`
        var moveNext = typeof(ThreadHolder).GetMethod(nameof(ThreadHolder.HelperAsync))!.GetCustomAttribute<AsyncStateMachineAttribute>()!.StateMachineType
            .GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.NonPublic)!;
        var inAsync = Assert.Single(SemaphoreGuards.Find(Body(moveNext), LockLayout.Releases));
        Assert.Equal(["<>4__this", "_table"], inAsync.Path.Select(f => f.Name)); // the state machine's `this`, then the callee's field
    }

    [Fact]
    public void A_lock_passed_to_a_method_the_finally_calls_that_releases_it()
    {
        var guards = SyncGuards(nameof(ThreadHolder.ThroughArguments)).OrderBy(g => g.TryStart).ToList();
        Assert.Equal([(LockLayout.SemaphoreType, true, "ThreadHolder.s_gate"), (LockLayout.ReaderWriterType, false, "ThreadHolder._table")],
            guards.Select(g => (g.LockType, g.Static, g.Name)));
        Assert.Equal(["_table"], guards[1].Path.Select(f => f.Name)); // what the finally passes: the holder's own field
        Assert.All(guards, g => Assert.True(g.AcquireOffset < g.TryStart && g.TryEnd <= g.ReleaseOffset, g.Name)); // released at the call in the finally
        var moveNext = typeof(ThreadHolder).GetMethod(nameof(ThreadHolder.ArgumentAsync))!.GetCustomAttribute<AsyncStateMachineAttribute>()!.StateMachineType
            .GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.NonPublic)!;
        var inAsync = Assert.Single(SemaphoreGuards.Find(Body(moveNext), LockLayout.Releases));
        Assert.Equal(["<>4__this", "_table"], inAsync.Path.Select(f => f.Name));
        Assert.Empty(SyncGuards(nameof(ThreadHolder.PassedButNotReleased)));
    }

    [Fact]
    public void A_lock_released_by_a_helper_of_a_helper_of_the_finally_or_passed_on_to_one()
    {
        var guards = SyncGuards(nameof(ThreadHolder.ThroughHelpersOfHelpers)).OrderBy(g => g.TryStart).ToList();
        Assert.Equal([(LockLayout.SemaphoreType, true, "ThreadHolder.s_gate"), (LockLayout.ReaderWriterType, false, "ThreadHolder._table")],
            guards.Select(g => (g.LockType, g.Static, g.Name)));
        Assert.Equal(["_table"], guards[1].Path.Select(f => f.Name)); // the helpers' `this` is the holder's own
        var passed = SyncGuards(nameof(ThreadHolder.PassedOn)).OrderBy(g => g.TryStart).ToList();
        Assert.Equal([(LockLayout.SemaphoreType, true, "ThreadHolder.s_gate"), (LockLayout.ReaderWriterType, false, "ThreadHolder._table")],
            passed.Select(g => (g.LockType, g.Static, g.Name)));
        // Passed on to a method that does not release it; a helper that calls itself: followed so far only, no guard.
        Assert.Empty(SyncGuards(nameof(ThreadHolder.PassedOnButNotReleased)));
        Assert.Empty(SyncGuards(nameof(ThreadHolder.ThroughARecursiveHelper)));
    }

    [Fact]
    public void A_lock_kept_in_a_local_is_read_from_the_holder_s_stack()
    {
        var guard = Assert.Single(SyncGuards(nameof(ThreadHolder.Local)));
        Assert.True(guard.Local);
        Assert.Null(guard.Name);
        Assert.Equal(LockLayout.SemaphoreType, guard.LockType);
    }

    [Fact]
    public void A_write_lock_released_in_a_finally_is_no_guard_its_holder_is_recorded()
    {
        Assert.Empty(SyncGuards(nameof(ThreadHolder.Write)));
    }

    [Fact]
    public void What_a_wait_call_is_made_on_from_the_start_of_its_statement()
    {
        var method = typeof(ThreadHolder).GetMethod(nameof(ThreadHolder.Wait))!;
        var body = Body(method);
        string[] waits = [LockLayout.SemaphoreType, LockLayout.WaitHandleType, .. LockLayout.EventTypes];
        var receivers = StatementStarts(body).Select(offset => SemaphoreGuards.Receiver(body, offset, waits)).OfType<IlReceiver>().Select(r => (r.Static, r.Name)).Distinct();
        Assert.Equal([(true, "ThreadHolder.s_gate"), (false, "ThreadHolder._done"), (true, "ThreadHolder.s_one")], receivers);
    }

    // Every offset an instruction starts at: the reader finds the call at or after each.
    private static IEnumerable<int> StatementStarts(MethodIl body) => IlReader.Instructions(body.Il).Select(i => i.Offset);

    private static IReadOnlyList<SemaphoreGuard> SyncGuards(string name) => SemaphoreGuards.Find(Body(typeof(ThreadHolder).GetMethod(name)!), LockLayout.Releases);

    private static MethodIl Body(MethodBase method)
    {
        var body = method.GetMethodBody()!;
        var finallys = body.ExceptionHandlingClauses.Where(c => c.Flags == ExceptionHandlingClauseOptions.Finally)
            .Select(c => new IlFinally(c.TryOffset, c.TryOffset + c.TryLength, c.HandlerOffset, c.HandlerOffset + c.HandlerLength)).ToList();
        return new MethodIl(body.GetILAsByteArray()!, finallys, token => Member(method.Module, token),
            token => method.Module.ResolveMethod(token) is { } callee && callee.Module == method.Module && callee.GetMethodBody() is not null ? Body(callee) : null);
    }

    private static IReadOnlyList<SemaphoreGuard> Guards(string method)
    {
        var stateMachine = typeof(Holder).GetMethod(method)!.GetCustomAttribute<AsyncStateMachineAttribute>()!.StateMachineType;
        var moveNext = stateMachine.GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)!;
        var body = moveNext.GetMethodBody()!;
        var finallys = body.ExceptionHandlingClauses.Where(c => c.Flags == ExceptionHandlingClauseOptions.Finally)
            .Select(c => new IlFinally(c.TryOffset, c.TryOffset + c.TryLength, c.HandlerOffset, c.HandlerOffset + c.HandlerLength)).ToList();
        return SemaphoreGuards.Find(new MethodIl(body.GetILAsByteArray()!, finallys, token => Member(moveNext.Module, token)));
    }

    private static IlMember? Member(Module module, int token)
    {
        try
        {
            return module.ResolveMember(token) switch
            {
                FieldInfo f => new IlMember(f.DeclaringType!.FullName!, f.Name),
                MethodBase m => new IlMember(m.DeclaringType!.FullName!, m.Name, m.GetParameters().Length),
                _ => null,
            };
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The shapes a holder's code takes.</summary>
    public sealed class Holder
    {
        private static readonly SemaphoreSlim s_gate = new(1, 1);
        private readonly SemaphoreSlim _gate = new(1, 1);

        public static async Task StaticAsync()
        {
            await s_gate.WaitAsync();
            try
            {
                await Task.Yield();
            }
            finally
            {
                s_gate.Release();
            }
        }

        public async Task InstanceAsync()
        {
            await _gate.WaitAsync();
            try
            {
                await Task.Yield();
            }
            finally
            {
                _gate.Release();
            }
        }

        public static async Task LocalAsync(int width)
        {
            var gate = new SemaphoreSlim(width, width);
            await gate.WaitAsync();
            await gate.WaitAsync();
            try
            {
                await Task.Yield();
            }
            finally
            {
                gate.Release(2);
            }
        }

        public async Task NestedAsync()
        {
            await s_gate.WaitAsync();
            try
            {
                await _gate.WaitAsync();
                try
                {
                    await Task.Yield();
                }
                finally
                {
                    _gate.Release();
                }
            }
            finally
            {
                s_gate.Release();
            }
        }

        public static async Task NoFinallyAsync()
        {
            await s_gate.WaitAsync();
            await Task.Yield();
            s_gate.Release();
        }

        public static async Task OtherFinallyAsync()
        {
            var other = new CancellationTokenSource();
            try
            {
                await Task.Yield();
            }
            finally
            {
                other.Dispose();
            }
        }
    }

    /// <summary>A thread's code holding locks that keep no owner, and waiting on them.</summary>
    public sealed class ThreadHolder
    {
        private static readonly SemaphoreSlim s_gate = new(1, 1);
        private static readonly Mutex s_one = new();
        private readonly ReaderWriterLockSlim _table = new();
        private readonly ManualResetEventSlim _done = new();

        public void Hold()
        {
            s_gate.Wait();
            try
            {
                _table.EnterReadLock();
                try
                {
                    s_one.WaitOne();
                    try
                    {
                        Thread.Sleep(0);
                    }
                    finally
                    {
                        s_one.ReleaseMutex();
                    }
                }
                finally
                {
                    _table.ExitReadLock();
                }
            }
            finally
            {
                s_gate.Release();
            }
        }

        public void Write()
        {
            _table.EnterWriteLock();
            try
            {
                Thread.Sleep(0);
            }
            finally
            {
                _table.ExitWriteLock();
            }
        }

        public void Wait()
        {
            s_gate.Wait();
            _done.Wait();
            s_one.WaitOne();
        }

        public void ThroughHelpers()
        {
            s_gate.Wait();
            try
            {
                _table.EnterReadLock();
                try
                {
                    Thread.Sleep(0);
                }
                finally
                {
                    LeaveTable();
                }
            }
            finally
            {
                LeaveGate();
            }
        }

        public static void Local(Func<SemaphoreSlim> lookUp)
        {
            var gate = lookUp();
            gate.Wait();
            try
            {
                Thread.Sleep(0);
            }
            finally
            {
                gate.Release();
            }
        }

        public async Task HelperAsync()
        {
            await s_gate.WaitAsync();
            try
            {
                await Task.Yield();
            }
            finally
            {
                LeaveTable();
            }
        }

        public void ThroughArguments()
        {
            s_gate.Wait();
            try
            {
                _table.EnterReadLock();
                try
                {
                    Thread.Sleep(0);
                }
                finally
                {
                    ExitRead(_table);
                }
            }
            finally
            {
                Free(s_gate);
            }
        }

        public async Task ArgumentAsync()
        {
            _table.EnterReadLock();
            try
            {
                await Task.Yield();
            }
            finally
            {
                ExitRead(_table);
            }
        }

        public void PassedButNotReleased()
        {
            s_gate.Wait();
            try
            {
                Thread.Sleep(0);
            }
            finally
            {
                Report(s_gate);
            }
        }

        private static void Free(SemaphoreSlim gate)
        {
            Thread.Sleep(0);
            gate.Release();
        }

        private void ExitRead(ReaderWriterLockSlim table)
        {
            Thread.Sleep(0);
            table.ExitReadLock();
            _done.Reset();
        }

        private static void Report(SemaphoreSlim gate) => Console.WriteLine(gate.CurrentCount);

        private static void LeaveGate() => s_gate.Release();

        private void LeaveTable()
        {
            Thread.Sleep(0);
            _table.ExitReadLock();
        }

        public void ThroughHelpersOfHelpers()
        {
            s_gate.Wait();
            try
            {
                _table.EnterReadLock();
                try
                {
                    Thread.Sleep(0);
                }
                finally
                {
                    CloseUp();
                }
            }
            finally
            {
                Done();
            }
        }

        public void PassedOn()
        {
            s_gate.Wait();
            try
            {
                _table.EnterReadLock();
                try
                {
                    Thread.Sleep(0);
                }
                finally
                {
                    HandOverTable(_table);
                }
            }
            finally
            {
                HandOver(s_gate);
            }
        }

        public void PassedOnButNotReleased()
        {
            s_gate.Wait();
            try
            {
                Thread.Sleep(0);
            }
            finally
            {
                Relay(s_gate);
            }
        }

        public void ThroughARecursiveHelper()
        {
            s_gate.Wait();
            try
            {
                Thread.Sleep(0);
            }
            finally
            {
                Again(3);
            }
        }

        private void CloseUp()
        {
            Thread.Sleep(0);
            Tidy();
        }

        private void Tidy()
        {
            Thread.Sleep(0);
            LeaveTable();
        }

        private static void Done()
        {
            Thread.Sleep(0);
            Finish();
        }

        private static void Finish()
        {
            Thread.Sleep(0);
            LeaveGate();
        }

        private static void HandOver(SemaphoreSlim gate)
        {
            Thread.Sleep(0);
            PassAlong(gate);
        }

        private static void PassAlong(SemaphoreSlim gate) => Free(gate);

        private void HandOverTable(ReaderWriterLockSlim table)
        {
            Thread.Sleep(0);
            ExitRead(table);
        }

        private static void Relay(SemaphoreSlim gate) => Report(gate);

        private static void Again(int times)
        {
            if (times > 0)
                Again(times - 1);
        }
    }
}
