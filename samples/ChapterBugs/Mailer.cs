namespace ChapterBugs;

/// <summary>Bug 3 (fire-and-forget): the task's exception goes nowhere.</summary>
public static class Mailer
{
    public static void SendWelcome(string address)
    {
        _ = SendAsync(address, "Welcome!");
    }

    private static async Task SendAsync(string address, string subject)
    {
        await Task.Delay(50); // connecting to the mail server
        throw new InvalidOperationException($"SMTP server refused {address}: 550 mailbox unavailable");
    }
}
