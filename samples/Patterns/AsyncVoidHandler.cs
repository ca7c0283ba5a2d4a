namespace PatternSamples;

// .NET's own: an `async void` event handler that throws takes the process down (asyncio has no async void: its nearest
// is a callback whose exception goes to the loop's exception handler).
public static class AsyncVoidHandler
{
    public static event EventHandler? Saved;

    public static async Task RunAsync(bool fixedForm)
    {
        Saved += fixedForm ? OnSavedSafely : OnSaved;
        Saved?.Invoke(null, EventArgs.Empty);
        await Task.Delay(500);
        Console.WriteLine("still running");
    }

    private static async void OnSaved(object? sender, EventArgs e)
    {
        await Task.Delay(20);
        throw new InvalidOperationException("the audit log is full"); // async-void-crash
    }

    private static async void OnSavedSafely(object? sender, EventArgs e)
    {
        try
        {
            await Task.Delay(20);
            throw new InvalidOperationException("the audit log is full");
        }
        catch (InvalidOperationException ex)
        {
            Console.WriteLine($"audit failed, kept running: {ex.Message}");
        }
    }
}
