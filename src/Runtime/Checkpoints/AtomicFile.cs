using System.Runtime.InteropServices;

namespace XlaGen.Checkpoints;

/// <summary>
/// The one atomic file write of the runtime (safetensors checkpoints, .npy arrays, History.SaveCsv, and XlaGen.Charts' PNG): the bytes go to a temporary file
/// <c>.{name}.{guid}.tmp</c> in the target's directory, are flushed to disk (fsync), and the file is renamed over the
/// target; then the directory is fsynced (best effort, Unix) so the rename itself is durable. If anything fails, the
/// temporary file is removed and whatever was at the target before is untouched. Temporary files of earlier writes to
/// the same target that were killed mid-write are removed first (<see cref="CheckpointTempFiles"/>).
/// </summary>
internal static class AtomicFile
{
    /// <summary>Writes the file at <paramref name="path"/> with <paramref name="write"/>. IO errors become a
    /// <see cref="CheckpointException"/> "could not save PATH (any previous file there is unchanged): …".</summary>
    /// <param name="path">The file to write.</param>
    /// <param name="write">Writes the contents to the temporary file's stream.</param>
    /// <param name="interceptWrites">Wraps the file stream (tests inject failures).</param>
    /// <param name="syncDirectory">Replaces the directory sync after the rename (tests observe it).</param>
    public static void Write(string path, Action<Stream> write, Func<Stream, Stream>? interceptWrites = null, Func<string, bool>? syncDirectory = null)
    {
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)!;
        // Writes killed mid-way leave their temporary files; the next write of the same target removes them.
        CheckpointTempFiles.RemoveStale(fullPath);
        var temp = CheckpointTempFiles.NewName(fullPath);
        try
        {
            bool moved = false;
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                var output = interceptWrites?.Invoke(file) ?? file;
                write(output);
                output.Flush();
                file.Flush(flushToDisk: true);
                // On Unix the rename happens while the file is still held exclusively, so a concurrent write's cleanup
                // (CheckpointTempFiles.RemoveStale) never sees it unheld; Windows cannot rename a file open this way.
                if (!OperatingSystem.IsWindows())
                {
                    File.Move(temp, fullPath, overwrite: true);
                    moved = true;
                }
            }
            if (!moved) File.Move(temp, fullPath, overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (e is IOException or UnauthorizedAccessException)
                throw new CheckpointException($"could not save {path} (any previous file there is unchanged): {e.Message}", e);
            throw;
        }
        // The rename is only durable once the directory entry is on disk (POSIX: fsync the directory).
        (syncDirectory ?? SyncDirectory)(directory);
    }

    /// <summary>
    /// Flushes a directory's entries to disk (open it read-only and fsync it), so that a rename into it survives a
    /// power loss. Best effort: returns false where that is not possible (Windows, where NTFS journals the rename and a
    /// directory cannot be opened this way; a file system that refuses fsync on a directory; a missing directory) and
    /// never throws: by then the new file is complete and in place.
    /// </summary>
    internal static bool SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows() || OperatingSystem.IsBrowser() || OperatingSystem.IsWasi()) return false;
        try
        {
            int fd = PosixOpen(directory, 0 /* O_RDONLY */);
            if (fd < 0) return false;
            try
            {
                return PosixFsync(fd) == 0;
            }
            finally
            {
                PosixClose(fd);
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    static extern int PosixOpen([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    static extern int PosixFsync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    static extern int PosixClose(int fd);

    static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
