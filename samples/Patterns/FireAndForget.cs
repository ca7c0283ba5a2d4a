using AsyncLens;

namespace PatternSamples;

// asyncio: `asyncio.create_task(send())` with no reference kept; its exception is "never retrieved".
public static class FireAndForget
{
    public static async Task RunAsync(bool fixedForm)
    {
        if (fixedForm)
            SendWelcomeAsync("ada").Forget(e => Console.WriteLine($"welcome mail failed, queued for retry: {e.Message}"));
        else
            SendWelcomeAsync("ada").Forget(); // no handler: reported at once as unobserved-exception, naming this line
        await Task.Delay(300);
    }

    private static async Task SendWelcomeAsync(string user)
    {
        await Task.Delay(20);
        throw new InvalidOperationException($"mail server refused {user}");
    }
}
