namespace ChapterBugs;

/// <summary>Bug 5 (hung step): a step that holds its thread for seconds; debug mode reports it while it runs.</summary>
public static class Indexer
{
    public static async Task RebuildAsync()
    {
        await Task.Yield();
        Thread.Sleep(1500); // a synchronous rebuild: every other request on this thread waits
        await Task.Yield();
    }
}
