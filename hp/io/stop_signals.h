// What a stopped process leaves behind. A writer killed outright (SIGKILL,
// a crash) leaves its temporary file for the next writer into the folder
// to remove (RemoveStaleTemporaries); a process stopped by a signal it may
// catch (Ctrl-C, `kill`, a closed terminal) removes what it registered
// here first: the temporary files of writers not yet committed and the
// side files placed for an output that was never committed. The outputs
// already committed stay; then the process dies of the signal as before.
#ifndef HP_IO_STOP_SIGNALS_H_
#define HP_IO_STOP_SIGNALS_H_

#include <string>

namespace hp {

// A path removed if the process is stopped by SIGINT, SIGTERM or SIGHUP
// while this object holds it (and the handler is installed:
// RemoveRegisteredOnStopSignals). Destroying it, or Release(), ends the
// registration; the file itself is left as it is.
class RemovedIfStopped {
 public:
  enum class Kind {
    kFile,
    kFolder,  // removed only if empty, after every registered file
  };

  RemovedIfStopped() = default;  // holds nothing
  explicit RemovedIfStopped(const std::string& path, Kind kind = Kind::kFile);
  RemovedIfStopped(RemovedIfStopped&& other) noexcept;
  RemovedIfStopped& operator=(RemovedIfStopped&& other) noexcept;
  RemovedIfStopped(const RemovedIfStopped&) = delete;
  RemovedIfStopped& operator=(const RemovedIfStopped&) = delete;
  ~RemovedIfStopped() { Release(); }

  void Release();

  struct Slot;

 private:
  Slot* slot_ = nullptr;
};

// Installs the handler for SIGINT, SIGTERM and SIGHUP, each only where its
// action is still the default: a signal the caller ignores stays ignored
// (nohup, a job started in the background), and a program's own handler
// stays its own. The handler removes every registered path (files, then
// empty folders) and lets the signal end the process, whose exit status
// is the signal's as before (128 + its number in a shell). The converter
// calls it first; a program that embeds hp may. Calling it again does
// nothing more.
void RemoveRegisteredOnStopSignals();

}  // namespace hp

#endif  // HP_IO_STOP_SIGNALS_H_
