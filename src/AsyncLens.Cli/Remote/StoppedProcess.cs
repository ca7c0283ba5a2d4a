using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Diagnostics.Runtime;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// Every thread of a process stopped with ptrace, until <see cref="Dispose"/> lets them run again. Threads are
/// seized (<c>PTRACE_SEIZE</c> + <c>PTRACE_INTERRUPT</c>), which sends no signal: if asynclens dies at any point,
/// even by SIGKILL, the kernel detaches them and nothing is left pending (a <c>PTRACE_ATTACH</c>'s SIGSTOP could be).
/// A signal that arrives while a thread is being stopped is handed back to it when it is let go. Threads started
/// meanwhile are stopped too: the thread list is read again until it has no new thread.
/// </summary>
internal sealed unsafe partial class StoppedProcess : IDisposable
{
    private const int PtraceDetach = 17;
    private const int PtraceGetRegSet = 0x4204;
    private const int PtraceSeize = 0x4206;
    private const int PtraceInterrupt = 0x4207;
    private const int NtPrStatus = 1;
    private const int PtraceEventStop = 128;
    private const int WaitAll = 0x40000000; // __WALL: threads too
    private const int NoHang = 1; // WNOHANG
    private const int Eperm = 1;
    private const int Esrch = 3;
    private const int Eintr = 4;
    private const int MaxPasses = 100;

    private readonly int _pid;
    private readonly Dictionary<int, int> _threads = []; // thread id -> the signal to hand back when it is let go (0: none)
    private long _stoppedAt;
    private long _letGoAt;

    private StoppedProcess(int pid) => _pid = pid;

    public int ProcessId => _pid;

    /// <summary>The threads stopped.</summary>
    public IReadOnlyCollection<int> Threads => _threads.Keys;

    /// <summary>Stops every thread of <paramref name="pid"/>.</summary>
    /// <exception cref="UnauthorizedAccessException">ptrace refused (another user's process, Yama, already traced).</exception>
    /// <exception cref="ProcessGoneException">The process exited.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the process is stopped from its first iteration
    public static StoppedProcess Stop(int pid)
    {
        var stopped = new StoppedProcess(pid) { _stoppedAt = Stopwatch.GetTimestamp() };
        try
        {
            var seized = new List<int>();
            for (var pass = 0; ; pass++)
            {
                if (pass == MaxPasses)
                    throw new ThreadsKeptStartingException();
                seized.Clear();
                foreach (var thread in ThreadIds(pid))
                {
                    if (stopped._threads.ContainsKey(thread))
                        continue;
                    if (ptrace(PtraceSeize, thread, null, null) != 0)
                    {
                        var error = Marshal.GetLastPInvokeError();
                        if (error == Esrch)
                            continue; // the thread exited
                        throw error == Eperm ? new UnauthorizedAccessException($"ptrace(PTRACE_SEIZE) of thread {thread}: operation not permitted")
                            : new IOException($"ptrace(PTRACE_SEIZE) of thread {thread} failed (errno {error})");
                    }
                    stopped._threads[thread] = 0;
                    if (ptrace(PtraceInterrupt, thread, null, null) == 0)
                        seized.Add(thread);
                    else
                        stopped._threads.Remove(thread); // it exited between the two calls: nothing to let go
                }
                if (seized.Count == 0)
                    break;
                stopped.WaitForStops(seized);
            }
            if (stopped._threads.Count == 0)
                throw new ProcessGoneException();
            return stopped;
        }
        catch
        {
            stopped.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A thread's registers in the context layout ClrMD reads (<see cref="AMD64Context"/>, <see cref="Arm64Context"/>),
    /// as its live reader fills it; null when they cannot be read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public byte[]? Registers(int thread)
    {
        var regs = stackalloc ulong[64];
        var iov = new Iovec(regs, 64 * sizeof(ulong));
        if (ptrace(PtraceGetRegSet, thread, (void*)NtPrStatus, &iov) != 0)
            return null;
        switch (RuntimeInformation.ProcessArchitecture)
        {
            case Architecture.X64:
            {
                // struct user_regs_struct: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs
                var context = new byte[AMD64Context.Size];
                ref var c = ref Unsafe.As<byte, AMD64Context>(ref context[0]);
                c.ContextFlags = AMD64Context.ContextControl | AMD64Context.ContextInteger | AMD64Context.ContextSegments;
                (c.R15, c.R14, c.R13, c.R12, c.Rbp, c.Rbx, c.R11, c.R10, c.R9, c.R8) = (regs[0], regs[1], regs[2], regs[3], regs[4], regs[5], regs[6], regs[7], regs[8], regs[9]);
                (c.Rax, c.Rcx, c.Rdx, c.Rsi, c.Rdi, c.Rip, c.Rsp) = (regs[10], regs[11], regs[12], regs[13], regs[14], regs[16], regs[19]);
                (c.Cs, c.EFlags, c.Ss, c.Ds, c.Es, c.Fs, c.Gs) = ((ushort)regs[17], (int)regs[18], (ushort)regs[20], (ushort)regs[23], (ushort)regs[24], (ushort)regs[25], (ushort)regs[26]);
                return context;
            }
            case Architecture.Arm64:
            {
                // struct user_pt_regs: x0..x30, sp, pc, pstate
                var context = new byte[Arm64Context.Size];
                ref var c = ref Unsafe.As<byte, Arm64Context>(ref context[0]);
                c.ContextFlags = Arm64Context.ContextControl | Arm64Context.ContextInteger;
                c.Cpsr = (uint)regs[33];
                (c.X0, c.X1, c.X2, c.X3, c.X4, c.X5, c.X6, c.X7, c.X8, c.X9) = (regs[0], regs[1], regs[2], regs[3], regs[4], regs[5], regs[6], regs[7], regs[8], regs[9]);
                (c.X10, c.X11, c.X12, c.X13, c.X14, c.X15, c.X16, c.X17, c.X18, c.X19) = (regs[10], regs[11], regs[12], regs[13], regs[14], regs[15], regs[16], regs[17], regs[18], regs[19]);
                (c.X20, c.X21, c.X22, c.X23, c.X24, c.X25, c.X26, c.X27, c.X28) = (regs[20], regs[21], regs[22], regs[23], regs[24], regs[25], regs[26], regs[27], regs[28]);
                (c.Fp, c.Lr, c.Sp, c.Pc) = (regs[29], regs[30], regs[31], regs[32]);
                return context;
            }
            default:
                return null;
        }
    }

    /// <summary>How long the process was stopped: from the first thread stopped to the last one let go (or until now).</summary>
    public TimeSpan StoppedFor => Stopwatch.GetElapsedTime(_stoppedAt, _letGoAt == 0 ? Stopwatch.GetTimestamp() : _letGoAt);

    /// <summary>Lets every thread run again (handing back any signal that arrived while it was being stopped).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Dispose()
    {
        if (_letGoAt != 0)
            return;
        foreach (var (thread, signal) in _threads)
            ptrace(PtraceDetach, thread, null, (void*)signal);
        _letGoAt = Stopwatch.GetTimestamp();
    }

    /// <summary>Compiles this class's code before a process is stopped (see <see cref="ProcessCopy.PrepareToStop"/>).</summary>
    public static void PrepareToStop()
    {
        const BindingFlags all = BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        foreach (var name in new[] { nameof(Stop), nameof(WaitForStops), nameof(ThreadIds), nameof(Registers), nameof(Dispose), nameof(ptrace), nameof(waitpid) })
            RuntimeHelpers.PrepareMethod(typeof(StoppedProcess).GetMethod(name, all)!.MethodHandle);
    }

    // Waits until every seized thread has stopped: in the interrupt's stop, or in a signal's (whose signal it is then
    // given back). Polled, thread by thread: a blocking wait for the main thread of a process killed meanwhile would
    // never return while its other threads, traced by asynclens, are not reaped.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WaitForStops(List<int> seized)
    {
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 10;
        var spin = new SpinWait();
        while (seized.Count > 0)
        {
            for (var i = seized.Count - 1; i >= 0; i--)
            {
                var thread = seized[i];
                int status;
                var waited = waitpid(thread, &status, WaitAll | NoHang);
                if (waited == 0 || (waited < 0 && Marshal.GetLastPInvokeError() == Eintr))
                    continue; // not stopped yet
                seized.RemoveAt(i);
                if (waited < 0 || (status & 0x7f) != 0x7f)
                    _threads.Remove(thread); // it exited (and is no longer traced)
                else if (status >> 16 != PtraceEventStop)
                    _threads[thread] = (status >> 8) & 0xff; // a signal-delivery stop: the signal is delivered when it is let go
            }
            if (seized.Count > 0 && Stopwatch.GetTimestamp() > deadline)
                throw new IOException($"{seized.Count} threads of process {_pid} did not stop within 10 s");
            spin.SpinOnce();
        }
    }

    private static List<int> ThreadIds(int pid)
    {
        var threads = new List<int>();
        try
        {
            foreach (var directory in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var thread))
                    threads.Add(thread);
            }
        }
        catch (DirectoryNotFoundException)
        {
            throw new ProcessGoneException();
        }
        return threads;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial long ptrace(int request, int pid, void* address, void* data);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int waitpid(int pid, int* status, int options);
}

/// <summary>New threads kept appearing while the process was being stopped.</summary>
internal sealed class ThreadsKeptStartingException() : Exception("the process kept starting threads while it was being stopped");
