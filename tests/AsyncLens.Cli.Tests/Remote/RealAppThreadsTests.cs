using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// <c>asynclens threads PID</c> on tests/RealApps/ShopApi running debug mode (the startup hook): a request thread
/// computing inside the C library's math functions (no frame the runtime can unwind) is shown with the managed frames
/// that called them, and AsyncLens's own threads are counted, not listed, with none of AsyncLens's source paths.
/// </summary>
public sealed class RealAppThreadsTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "RealApps", "ShopApi"));

    [Theory]
    [InlineData("Debug")]
    [InlineData("Release")]
    public void A_thread_in_native_code_shows_its_managed_callers_and_AsyncLens_threads_are_left_out(string configuration)
    {
        using var shop = new RunningApp("ShopApi", configuration, new Dictionary<string, string?> { ["DOTNET_STARTUP_HOOKS"] = Repo.Engine, ["ASYNCLENS_DEBUG"] = "1" });
        shop.Start("/bug/interest/300000");
        // A Release build runs the loop in code compiled again while the call was in it (on-stack replacement), whose
        // addresses the runtime maps to no line: the frame is named without one rather than with a wrong one.
        var interest = configuration == "Debug"
            ? $"    Reports.InterestTable(int, CancellationToken) at {s_at["shop.interest.pow"].File}:{s_at.Line("shop.interest.pow")}\n"
            : "    Reports.InterestTable(int, CancellationToken)\n";
        var inNative = new Regex(@"\nThread \d+ \(os \d+\): in native code \(its callers found on its stack\)\n    (\w+ in )?(libm|libcoreclr)\.so(\.6)? \(native code\)\n" + Regex.Escape(interest));
        // The request may not have reached its handler yet, and the thread spends most of its time in native code, not
        // all (a Debug build's loop about one read in five here, more on a loaded machine: CI once saw five reads in a
        // row stop it in managed code): a read that stops it in managed code shows it the usual way, so read again.
        var output = "";
        for (var attempt = 0; attempt < 15 && !inNative.IsMatch(output); attempt++)
        {
            if (attempt > 0)
                Thread.Sleep(300);
            output = OutsideRead.Run("threads", shop);
        }
        Assert.True(inNative.IsMatch(output), output);
        Assert.True(Regex.IsMatch(output, @"^asynclens: \d+ managed threads, \d+ running an async step, [2-9] of AsyncLens's own not shown \(pid \d+, [0-9T:-]+Z\)\n"), output);
        Assert.DoesNotContain(Repo.Source("src"), output);
    }
}
