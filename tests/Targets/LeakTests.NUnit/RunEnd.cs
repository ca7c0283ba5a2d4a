using AsyncLens.Testing;
using NUnit.Framework;

// The run-end check as a failure `dotnet test` shows (exit 1): a setup fixture outside any namespace wraps the whole
// assembly, and the adapter reports its teardown's failure (not the assembly suite's).
[SetUpFixture]
public sealed class LeakRunEnd
{
    [OneTimeTearDown]
    public void Verify() => DetectAsyncLeaksAttribute.VerifyRun();
}
