// glibc's allocator settings every libra binary applies at start-up: freed
// large blocks stay mapped instead of being returned to the OS and faulted
// in again on the next step or merge (README, "Speed").
#ifndef LIBRA_CORE_MEMORY_SETTINGS_H_
#define LIBRA_CORE_MEMORY_SETTINGS_H_

namespace libra {

// Raises glibc's mmap and trim thresholds (1 GiB, or 32 MiB where glibc caps
// the mmap threshold there).
void KeepFreedMemoryMapped();

}  // namespace libra

#endif  // LIBRA_CORE_MEMORY_SETTINGS_H_
