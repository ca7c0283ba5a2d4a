namespace Patterns.Scenarios;

// An async void event handler throws: the exception has nowhere to go, the process goes down.
public static class AsyncVoid
{
    // After its first await: thrown on the thread pool.
    public static async Task RunAsync()
    {
        var button = new Button();
        button.Clicked += OnClicked; // @void.subscribed
        button.Click();
        await Task.Delay(2000);
    }

    // Before its first await: thrown inside its caller's stack, rethrown on the thread pool all the same.
    public static async Task RunSyncAsync()
    {
        var form = new Button();
        form.Clicked += OnSubmitted;
        form.Click();
        await Task.Delay(2000);
    }

    private static async void OnClicked(object? sender, EventArgs e)
    {
        await Task.Delay(20);
        throw new InvalidOperationException("the order form is gone"); // @void.thrown
    }

    private static async void OnSubmitted(object? sender, EventArgs e)
    {
        if (sender is Button)
            throw new ArgumentException("the form has no order number"); // @void-sync.thrown
        await Task.Delay(20);
    }

    private sealed class Button
    {
        public event EventHandler? Clicked;

        public void Click() => Clicked?.Invoke(this, EventArgs.Empty); // @void.raised
    }
}
