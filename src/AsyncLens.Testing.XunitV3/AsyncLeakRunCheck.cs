namespace AsyncLens.Testing;

/// <summary>
/// The run-end check for xunit v3 (goleak's <c>VerifyTestMain</c>): <c>[assembly: AssemblyFixture(typeof(AsyncLeakRunCheck))]</c>.
/// When the assembly's tests are done, work no test claimed (<see cref="AsyncLeakRun"/>) fails the run once, as the
/// assembly fixture's cleanup failure.
/// </summary>
public sealed class AsyncLeakRunCheck : IDisposable
{
    /// <inheritdoc/>
    public void Dispose() => AsyncLeakRun.Verify();
}
