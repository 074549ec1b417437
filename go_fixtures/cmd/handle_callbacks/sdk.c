// The C side of handle_callbacks: an SDK that runs its own threads and calls back into Go with
// the opaque handles (cgo.Handle values) Go registered, the way event-driven C libraries do.
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "_cgo_export.h"
#include "sdk.h"

struct job {
	const uintptr_t *handles;
	const int64_t *tags;
	int nhandles;
	int calls;
	int thread;
	int64_t mismatches;
};

static void *worker(void *arg) {
	struct job *job = arg;
	for (int i = 0; i < job->calls; i++) {
		int k = (i + job->thread) % job->nhandles;
		int64_t tag = goSessionEvent(job->handles[k], (int64_t)i);
		if (tag != job->tags[k]) job->mismatches++;
	}
	return NULL;
}

int64_t sdk_dispatch(const uintptr_t *handles, const int64_t *tags, int nhandles,
                     int nthreads, int calls_per_thread) {
	pthread_t threads[SDK_MAX_THREADS];
	struct job jobs[SDK_MAX_THREADS];
	if (nthreads > SDK_MAX_THREADS) nthreads = SDK_MAX_THREADS;
	int started = 0;
	for (int t = 0; t < nthreads; t++) {
		jobs[t] = (struct job){handles, tags, nhandles, calls_per_thread, t, 0};
		if (pthread_create(&threads[t], NULL, worker, &jobs[t]) != 0) break;
		started++;
	}
	int64_t mismatches = 0;
	for (int t = 0; t < started; t++) {
		pthread_join(threads[t], NULL);
		mismatches += jobs[t].mismatches;
	}
	if (started < nthreads) return -1;
	return mismatches;
}
