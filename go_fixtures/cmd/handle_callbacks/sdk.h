#include <stdint.h>

#define SDK_MAX_THREADS 16

int64_t sdk_dispatch(const uintptr_t *handles, const int64_t *tags, int nhandles,
                     int nthreads, int calls_per_thread);
