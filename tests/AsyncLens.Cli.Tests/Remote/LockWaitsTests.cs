using AsyncLens.Cli.Remote;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// Which wait a blocked thread's frames are (<see cref="LockWaits.Kind"/>): the outermost of the locks' methods above the
/// app's first frame, on frames as the reader makes them (top first; the runtime's names as .NET 10 spells them).
/// </summary>
public sealed class LockWaitsTests
{
    private static readonly ThreadFrame s_app = new("Shelf.Restock()", new SourceLine("/src/Shelf.cs", 39), "Shop.dll", App: true);
    private static readonly ThreadFrame s_start = Runtime("Thread.StartCallback()", "System.Threading.Thread.StartCallback");

    private static ThreadFrame Runtime(string method, string name) => new(method, null, "System.Private.CoreLib.dll", RuntimeName: name);

    private static ThreadFrame MonitorWait => Runtime("Monitor.Wait(object, int)", "System.Threading.Monitor.Wait");

    private static ThreadFrame WaitOne => Runtime("WaitHandle.WaitOneNoCheck(int, bool, object, byte)", "System.Threading.WaitHandle.WaitOneNoCheck");

    [Fact]
    public void A_semaphore_s_Wait_waits_in_a_monitor_s_wait_and_is_the_semaphore_s()
    {
        var kind = LockWaits.Kind([MonitorWait, Runtime("SemaphoreSlim.WaitUntilCountOrTimeout(long, long, CancellationToken)", "System.Threading.SemaphoreSlim.WaitUntilCountOrTimeout"),
            Runtime("SemaphoreSlim.Wait()", "System.Threading.SemaphoreSlim.Wait"), s_app, s_start]);

        Assert.Equal(("System.Threading.SemaphoreSlim.", s_app), kind);
    }

    [Fact]
    public void A_write_lock_waiting_for_readers_waits_in_a_wait_handle_and_is_the_reader_writer_lock_s()
    {
        var kind = LockWaits.Kind([WaitOne, Runtime("ReaderWriterLockSlim.WaitOnEvent(EventWaitHandle, ref uint, TimeoutTracker, EnterLockType)", "System.Threading.ReaderWriterLockSlim.WaitOnEvent"),
            Runtime("ReaderWriterLockSlim.EnterWriteLock()", "System.Threading.ReaderWriterLockSlim.EnterWriteLock"), s_app, s_start]);

        Assert.Equal(("System.Threading.ReaderWriterLockSlim.", s_app), kind);
    }

    [Fact]
    public void Events_and_a_mutex_s_WaitOne()
    {
        var slim = LockWaits.Kind([MonitorWait, Runtime("ManualResetEventSlim.Wait(int, CancellationToken)", "System.Threading.ManualResetEventSlim.Wait"), s_app]);
        var handle = LockWaits.Kind([WaitOne, Runtime("WaitHandle.WaitOne()", "System.Threading.WaitHandle.WaitOne"), s_app]);

        Assert.Equal(("event", s_app), slim);
        Assert.Equal(("System.Threading.WaitHandle.", s_app), handle); // which WaitHandle: the object the call waits on says
    }

    [Fact]
    public void A_task_s_wait_a_wait_inside_another_API_a_monitor_s_own_Wait_and_the_app_s_running_code_are_no_lock_wait()
    {
        var task = LockWaits.Kind([MonitorWait, Runtime("ManualResetEventSlim.Wait(int, CancellationToken)", "System.Threading.ManualResetEventSlim.Wait"),
            Runtime("Task.SpinThenBlockingWait(int, CancellationToken)", "System.Threading.Tasks.Task.SpinThenBlockingWait"), s_app]);
        var collection = LockWaits.Kind([MonitorWait, Runtime("SemaphoreSlim.Wait(int, CancellationToken)", "System.Threading.SemaphoreSlim.Wait"),
            Runtime("BlockingCollection<T>.TryTakeWithNoTimeValidation(...)", "System.Collections.Concurrent.BlockingCollection`1.TryTakeWithNoTimeValidation"), s_app]);
        var monitor = LockWaits.Kind([MonitorWait, s_app]);
        var running = LockWaits.Kind([s_app, Runtime("Monitor.Enter(object, ref bool)", "System.Threading.Monitor.Enter")]);

        Assert.Equal([null, null, null, null], new[] { task, collection, monitor, running });
    }

    [Fact]
    public void A_monitor_entered_inside_a_library_s_code_is_still_the_monitor_s_its_holder_is_recorded()
    {
        var kind = LockWaits.Kind([Runtime("Monitor.Enter_Slowpath(object)", "System.Threading.Monitor.Enter_Slowpath"),
            Runtime("Cache.Get(string)", "Caching.Cache.Get"), s_app]);

        Assert.Equal(("System.Threading.Monitor.", s_app), kind);
    }
}
