using AsyncLens;

namespace PatternSamples;

// asyncio: `await gather(a(), b())` raises the first exception; the other is lost (unless return_exceptions=True).
public static class Gather
{
    public static async Task RunAsync(bool fixedForm)
    {
        try
        {
            if (fixedForm)
                await Task.WhenAll(SaveAsync("eu-west", 20), SaveAsync("us-east", 60)).WithAllExceptions();
            else
                await Task.WhenAll(SaveAsync("eu-west", 20), SaveAsync("us-east", 60)); // lost-exceptions: us-east is never seen
        }
        catch (AggregateException all)
        {
            foreach (var e in all.InnerExceptions)
                Console.WriteLine($"failed: {e.Message}");
        }
        catch (IOException e)
        {
            Console.WriteLine($"failed: {e.Message}");
        }
        // Or every outcome, none thrown (gather(return_exceptions=True)):
        var outcomes = await AsyncTasks.WhenAllSettled(SaveAsync("ap-south", 10), Task.Delay(5));
        Console.WriteLine($"settled: {string.Join(", ", outcomes.Select(o => o.ToString()))}");
    }

    private static async Task SaveAsync(string replica, int ms)
    {
        await Task.Delay(ms);
        throw new IOException($"{replica} refused the write");
    }
}
