using AsyncLens;

namespace PatternSamples;

// asyncio: cleanup in `finally` after a cancellation fails (fixed with asyncio.shield); Kotlin: withContext(NonCancellable).
public static class Shield
{
    public static async Task RunAsync(bool fixedForm)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var connection = new Connection();
        try
        {
            await CopyAsync(connection, timeout.Token, fixedForm);
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine($"copy canceled; connection closed: {connection.Closed}");
        }
    }

    private static async Task CopyAsync(Connection connection, CancellationToken token, bool fixedForm)
    {
        try
        {
            await connection.SendAsync(token);
        }
        finally
        {
            if (fixedForm)
                await AsyncCleanup.RunAsync(connection.CloseAsync, TimeSpan.FromSeconds(5));
            else
                await connection.CloseAsync(token); // cancelled-cleanup: the token is already canceled, CloseAsync throws at once
        }
    }

    private sealed class Connection
    {
        public bool Closed { get; private set; }

        public async Task SendAsync(CancellationToken token) => await Task.Delay(5000, token);

        public async Task CloseAsync(CancellationToken token)
        {
            await Task.Delay(10, token);
            Closed = true;
        }
    }
}
