using System.Diagnostics;

namespace ChapterBugs;

/// <summary>
/// Step 6 (the chapter's first problem, the short call stack): requests pile up behind a backend that serves
/// one at a time, and the first one runs a slow query. A debugger stopped in <see cref="FetchUserAsync"/> would not show who called it; the dump
/// shows every pending request, what it waits for, and the line it waits at.
/// </summary>
public static class Gateway
{
    private static readonly SemaphoreSlim s_backend = new(1); // the backend takes one request at a time

    public static async Task ServeAsync(int requests)
    {
        var handlers = new Task[requests];
        for (var i = 0; i < requests; i++)
            handlers[i] = HandleAsync(i);
        await Task.WhenAll(handlers);
    }

    private static async Task HandleAsync(int id)
    {
        var user = await FetchUserAsync(id);
        GC.KeepAlive(user);
    }

    private static async Task<string> FetchUserAsync(int id)
    {
        await s_backend.WaitAsync(); // everyone else queues here
        try
        {
            await Task.Delay(id == 0 ? 1500 : 10); // request 0 runs a slow query while it holds the backend
            return $"user {id}";
        }
        finally
        {
            s_backend.Release();
        }
    }

    /// <summary>What <c>kill -USR1 &lt;pid&gt;</c> from a shell does: AsyncLens dumps every pending task, and the app goes on.</summary>
    public static void SignalSelf()
    {
        if (OperatingSystem.IsWindows())
            return;
        using var kill = Process.Start("kill", ["-USR1", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }
}
