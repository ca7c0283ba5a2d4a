namespace Patterns.Scenarios;

// A copy canceled by its timeout; its finally block closes the connection with the same, already canceled, token:
// CloseAsync throws at once and the connection is never closed.
public static class CancelledCleanup
{
    public static async Task RunAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var connection = new Connection();
        try
        {
            await CopyAsync(connection, timeout.Token); // @cleanup.called
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine($"copy canceled; connection closed: {connection.Closed}");
        }
        await Task.Delay(200);
    }

    private static async Task CopyAsync(Connection connection, CancellationToken token)
    {
        try
        {
            await connection.SendAsync(token); // @cleanup.cancelled
        }
        finally
        {
            await connection.CloseAsync(token); // @cleanup.await
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
