namespace ChapterBugs;

// The chapter's gather() losing exceptions: both replicas refuse the write, Task.WhenAll holds both failures, and
// `await` throws only the first. The second is never logged.
public static class Replicas
{
    public static async Task WriteAsync(string key)
    {
        try
        {
            await Task.WhenAll(WriteToAsync("eu-west", key, delayMs: 20), WriteToAsync("us-east", key, delayMs: 60));
        }
        catch (Exception e)
        {
            Console.WriteLine($"   write failed: {e.Message}");
        }
    }

    private static async Task WriteToAsync(string replica, string key, int delayMs)
    {
        await Task.Delay(delayMs);
        throw new IOException($"{replica} refused the write of {key}");
    }
}
