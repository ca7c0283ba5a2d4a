namespace ChapterBugs;

/// <summary>Bug 4 (pending task collected): an await on a TaskCompletionSource that nothing will ever complete.</summary>
public static class Sessions
{
    public static void OpenAndForget()
    {
        _ = WaitForReplyAsync(new TaskCompletionSource<string>());
    }

    private static async Task<string> WaitForReplyAsync(TaskCompletionSource<string> reply)
    {
        var text = await reply.Task;
        return text.Trim();
    }
}
