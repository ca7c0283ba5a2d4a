using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace AsyncLens.Testing;

/// <summary>
/// The run-end check for xunit v2 (goleak's <c>VerifyTestMain</c>), which has no assembly fixture:
/// <c>[assembly: TestFramework("AsyncLens.Testing.AsyncLeakTestFramework", "AsyncLens.Testing.Xunit")]</c>. xunit's own
/// framework, whose assembly runner, once every test is done, fails the run once with the work no test claimed
/// (<see cref="AsyncLeakRun"/>) as the assembly's cleanup failure.
/// </summary>
public sealed class AsyncLeakTestFramework(IMessageSink messageSink) : XunitTestFramework(messageSink)
{
    /// <inheritdoc/>
    protected override ITestFrameworkExecutor CreateExecutor(AssemblyName assemblyName) =>
        new Executor(assemblyName, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Executor(AssemblyName assemblyName, ISourceInformationProvider sourceInformation, IMessageSink diagnostics)
        : XunitTestFrameworkExecutor(assemblyName, sourceInformation, diagnostics)
    {
        // xunit's own RunTestCases, with the runner below: xunit declares it async void (the run ends with its message).
#pragma warning disable VSTHRD100, CA1849
        protected override async void RunTestCases(IEnumerable<IXunitTestCase> testCases, IMessageSink executionMessageSink, ITestFrameworkExecutionOptions executionOptions)
        {
            using var runner = new Runner(TestAssembly, testCases, DiagnosticMessageSink, executionMessageSink, executionOptions);
            await runner.RunAsync().ConfigureAwait(false);
        }
#pragma warning restore VSTHRD100, CA1849
    }

    private sealed class Runner(ITestAssembly assembly, IEnumerable<IXunitTestCase> testCases, IMessageSink diagnostics, IMessageSink execution, ITestFrameworkExecutionOptions options)
        : XunitTestAssemblyRunner(assembly, testCases, diagnostics, execution, options)
    {
        protected override async Task BeforeTestAssemblyFinishedAsync()
        {
            await base.BeforeTestAssemblyFinishedAsync().ConfigureAwait(false);
            // An exception here is the assembly's cleanup failure (ITestAssemblyCleanupFailure): reported once, after all tests.
            Aggregator.Run(AsyncLeakRun.Verify);
        }
    }
}
