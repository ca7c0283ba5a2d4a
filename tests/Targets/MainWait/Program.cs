// Main's first step is short (the method it awaits parks at once); the main thread then blocks on Main for the rest of
// the run, while a later step of that method holds its thread 0.3 s: the one slow step.
await MainWait.Poller.PollAsync();
