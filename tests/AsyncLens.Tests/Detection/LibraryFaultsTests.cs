using System.Reflection;
using AsyncLens.Detection;
using AsyncLens.Reporting;
using AsyncLens.Runtime;
using AsyncLens.Symbols;
using AsyncLens.Tracking;
using Xunit;

namespace AsyncLens.Tests.Detection;

/// <summary>
/// Whose unobserved fault it is. A package's async method that faults before its first await, called by a library's
/// async step with no code of the app's in between (the shape of Grpc.Net.Client's StreamWrapper.ReadAsync under the HTTP/2
/// connection's read loop, on a socket disposed at shutdown), is the library's own business; the same method called by
/// the app's code (a fire-and-forget call), or through Task.Run, or faulting with an exception that came through the
/// app's code, is the app's. The package is xunit's assert library (a NuGet package of this test project): its
/// RecordExceptionAsync runs the callback given to it in its first step, where the callback raises the fault event, on
/// the stack the runtime raises it on when that method's builder faults its task; xunit's ThrowsAsync, an async method of
/// the same package, calls it from its own step.
/// </summary>
public sealed class LibraryFaultsTests
{
    private static readonly MethodInfo s_recordAsync = typeof(Assert).GetMethod("RecordExceptionAsync", BindingFlags.NonPublic | BindingFlags.Static, [typeof(Func<Task>)])!;

    [Fact]
    public async Task A_packages_method_its_own_async_step_called_is_not_reported_and_one_the_app_called_is()
    {
        Assert.Equal(CodeKind.Package, CodeOrigin.Kind(s_recordAsync.Module.Assembly));

        // The package's own step (ThrowsAsync) calls it, though this test called ThrowsAsync.
        var (faults, found) = Detector();
        await Assert.ThrowsAsync<ObjectDisposedException>(Raising(faults, 1_001, DisposedStreamFault()));
        faults.Flush();
        Assert.Empty(found);

        // The app's code calls it (a lambda of the app's, on the pool).
        (faults, found) = Detector();
        var call = (Func<Task>)Delegate.CreateDelegate(typeof(Func<Task>), Raising(faults, 1_002, DisposedStreamFault()), s_recordAsync);
        await Task.Run(() => call());
        faults.Flush();
        Assert.Equal(1_002, Assert.Single(found).TaskId);

        // Task.Run runs it straight from the pool: nothing on the stack says who made that work, so it stays the app's.
        (faults, found) = Detector();
        await Task.Run((Func<Task>)Delegate.CreateDelegate(typeof(Func<Task>), Raising(faults, 1_003, DisposedStreamFault()), s_recordAsync));
        faults.Flush();
        Assert.Equal(1_003, Assert.Single(found).TaskId);

        // The package's own step calls it, and its exception came through the app's code (a callback of the app's).
        (faults, found) = Detector();
        await Assert.ThrowsAsync<InvalidOperationException>(Raising(faults, 1_004, ThrownHere()));
        faults.Flush();
        Assert.Equal(1_004, Assert.Single(found).TaskId);
    }

    [Fact]
    public void A_registered_task_is_made_where_its_creations_sampled_stack_says_else_by_its_creators_step()
    {
        var package = s_recordAsync.DeclaringType!;
        var byPackage = new TaskRecord(7, TaskOrigin.AsyncMethod, 0, 1, s_recordAsync, 0, null, null);
        var byApp = new TaskRecord(7, TaskOrigin.AsyncMethod, 0, 1, typeof(LibraryFaultsTests).GetMethod(nameof(ThrownHere), BindingFlags.NonPublic | BindingFlags.Static)!, 0, null, null);
        Assert.False(UnobservedExceptions.TheApps(package, byPackage, null, DisposedStreamFault()));
        Assert.True(UnobservedExceptions.TheApps(package, byApp, null, DisposedStreamFault()));
        Assert.True(UnobservedExceptions.TheApps(package, byPackage, null, ThrownHere()));
        Assert.True(UnobservedExceptions.TheApps(package, null, null, DisposedStreamFault()));
        Assert.True(UnobservedExceptions.TheApps(typeof(LibraryFaultsTests), byPackage, null, DisposedStreamFault()));
        // A package's step was running, but the stack sampled for that creation shows the app's code (this test) nearest.
        var sampled = new TaskRecord(7, TaskOrigin.AsyncMethod, 0, 1, s_recordAsync, 0, null, new CreationSample(new System.Diagnostics.StackTrace().GetFrames(), null));
        Assert.True(UnobservedExceptions.TheApps(package, sampled, null, DisposedStreamFault()));
    }

    // The callback the package's method runs in its first step: it notes the exception the thread last threw and raises
    // the fault event (for the package's method's task), then hands the package a task faulted with that exception.
    private static Func<Task> Raising(UnobservedExceptions faults, int taskId, Exception thrown) => () =>
    {
        faults.OnFirstChance(thrown);
        faults.OnFaulted(taskId, null, DetectionSettings.Now);
        return Task.FromException(thrown);
    };

    // An ObjectDisposedException thrown and caught in the framework's code only (a disposed stream's read).
    private static Exception DisposedStreamFault()
    {
        var stream = new MemoryStream();
        stream.Dispose();
        return stream.ReadAsync(new byte[1]).AsTask().Exception!.InnerException!;
    }

    private static Exception ThrownHere()
    {
        try
        {
            throw new InvalidOperationException("the app's callback failed");
        }
        catch (InvalidOperationException ex)
        {
            return ex;
        }
    }

    private static (UnobservedExceptions, List<Finding>) Detector()
    {
        var sink = new Sink();
        return (new UnobservedExceptions(new DetectionSettings(new AsyncDebugOptions()), sink, TaskRegistry.Detached(), TimeProvider.System), sink.Found);
    }

    private sealed class Sink : IFindingSink
    {
        public List<Finding> Found { get; } = [];

        public void Add(Finding finding)
        {
            lock (Found)
                Found.Add(finding);
        }
    }
}
