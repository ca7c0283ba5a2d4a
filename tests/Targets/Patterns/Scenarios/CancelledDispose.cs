namespace Patterns.Scenarios;

// A session disposed by `await using` after its work was canceled: DisposeAsync flushes with the token the session was
// given, already canceled, so the flush throws at once and nothing is written.
public static class CancelledDispose
{
    public static async Task RunAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var session = new Session(timeout.Token);
        try
        {
            await using (session)
            {
                await session.WorkAsync(); // @dispose.cancelled
            } // @dispose.called
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine($"work canceled; session flushed: {session.Flushed}");
        }
        await Task.Delay(200);
    }

    private sealed class Session(CancellationToken token) : IAsyncDisposable
    {
        public bool Flushed { get; private set; }

        public async Task WorkAsync() => await Task.Delay(5000, token);

        public async ValueTask DisposeAsync()
        {
            await Task.Delay(10, token); // @dispose.await
            Flushed = true;
        }
    }
}
