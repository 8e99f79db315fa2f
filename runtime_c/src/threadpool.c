/* A small fixed pthread pool. A worker that finishes a job spins briefly
 * (a bounded number of pause instructions, a few microseconds) watching for
 * the next one, then sleeps on a condition variable: back-to-back ops skip
 * the futex wake, an idle pool sleeps, and a longer spin measured slower on
 * 2-vCPU machines, where a spinning thread takes its SMT sibling's core. Chunk i of a job always covers the
 * same index range for a given thread count, and ops only split independent
 * work, so results do not depend on the thread count. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"

#define SPIN_ROUNDS 1000 /* pause instructions before sleeping: ~1-5 us */

struct pfw_threadpool {
  int32_t n;              /* threads including the caller */
  pthread_t* workers;
  pthread_mutex_t mu;
  pthread_cond_t work_cv, done_cv;
  atomic_uint_fast64_t generation; /* bumped per job so workers see each job once */
  atomic_int pending;     /* workers still running the current job */
  int32_t sleepers;       /* workers waiting on work_cv (under mu) */
  bool stop;              /* under mu */
  atomic_bool stopping;   /* the same, for spinning workers */
  pfw_task_fn fn;         /* the job: written before generation is bumped */
  void* ctx;
  int64_t total;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void chunk(int64_t total, int32_t parts, int32_t i, int64_t* b, int64_t* e) {
  int64_t base = total / parts, rem = total % parts;
  *b = i * base + (i < rem ? i : rem);
  *e = *b + base + (i < rem ? 1 : 0);
}

typedef struct {
  pfw_threadpool* pool;
  int32_t index;
} worker_arg;

/* Waits until the generation differs from `seen` (or the pool stops):
 * spinning first, then asleep. Returns the new generation. */
static uint64_t wait_for_job(pfw_threadpool* pool, uint64_t seen) {
  for (int i = 0; i < SPIN_ROUNDS; i++) {
    uint64_t g = atomic_load_explicit(&pool->generation, memory_order_acquire);
    if (g != seen || atomic_load_explicit(&pool->stopping, memory_order_relaxed)) return g;
    cpu_relax();
  }
  pthread_mutex_lock(&pool->mu);
  pool->sleepers++;
  while (!pool->stop && atomic_load_explicit(&pool->generation, memory_order_acquire) == seen)
    pthread_cond_wait(&pool->work_cv, &pool->mu);
  pool->sleepers--;
  uint64_t g = atomic_load_explicit(&pool->generation, memory_order_acquire);
  pthread_mutex_unlock(&pool->mu);
  return g;
}

static void* worker_main(void* p) {
  worker_arg* arg = p;
  pfw_threadpool* pool = arg->pool;
  int32_t index = arg->index;
  free(arg);
  uint64_t seen = 0;
  for (;;) {
    seen = wait_for_job(pool, seen);
    if (atomic_load_explicit(&pool->stopping, memory_order_acquire)) break;
    int64_t b, e;
    chunk(pool->total, pool->n, index, &b, &e);
    if (b < e) pool->fn(pool->ctx, b, e);
    if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1) {
      pthread_mutex_lock(&pool->mu); /* the caller may be asleep on done_cv */
      pthread_cond_signal(&pool->done_cv);
      pthread_mutex_unlock(&pool->mu);
    }
  }
  return NULL;
}

pfw_threadpool* pfw_threadpool_create(int32_t num_threads) {
  if (num_threads <= 1) return NULL; /* inline execution needs no pool */
  pfw_threadpool* pool = calloc(1, sizeof *pool);
  if (!pool) return NULL;
  pool->n = num_threads;
  pool->workers = calloc((size_t)num_threads - 1, sizeof(pthread_t));
  if (!pool->workers) {
    free(pool);
    return NULL;
  }
  pthread_mutex_init(&pool->mu, NULL);
  pthread_cond_init(&pool->work_cv, NULL);
  pthread_cond_init(&pool->done_cv, NULL);
  atomic_init(&pool->generation, 0);
  atomic_init(&pool->pending, 0);
  atomic_init(&pool->stopping, false);
  for (int32_t i = 1; i < num_threads; i++) {
    worker_arg* arg = malloc(sizeof *arg);
    if (arg) {
      arg->pool = pool;
      arg->index = i;
    }
    if (!arg || pthread_create(&pool->workers[i - 1], NULL, worker_main, arg) != 0) {
      free(arg);
      pool->n = i; /* run with the threads we got */
      break;
    }
  }
  return pool;
}

int32_t pfw_threadpool_size(const pfw_threadpool* pool) { return pool ? pool->n : 1; }

void pfw_threadpool_free(pfw_threadpool* pool) {
  if (!pool) return;
  pthread_mutex_lock(&pool->mu);
  pool->stop = true;
  atomic_store_explicit(&pool->stopping, true, memory_order_release);
  pthread_cond_broadcast(&pool->work_cv);
  pthread_mutex_unlock(&pool->mu);
  for (int32_t i = 1; i < pool->n; i++) pthread_join(pool->workers[i - 1], NULL);
  pthread_mutex_destroy(&pool->mu);
  pthread_cond_destroy(&pool->work_cv);
  pthread_cond_destroy(&pool->done_cv);
  free(pool->workers);
  free(pool);
}

void pfw_parallel_for(pfw_threadpool* pool, int64_t n, pfw_task_fn fn, void* ctx) {
  if (n <= 0) return;
  if (!pool || pool->n <= 1 || n == 1) {
    fn(ctx, 0, n);
    return;
  }
  pthread_mutex_lock(&pool->mu);
  pool->fn = fn;
  pool->ctx = ctx;
  pool->total = n;
  atomic_store_explicit(&pool->pending, pool->n - 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release); /* publishes the job */
  if (pool->sleepers) pthread_cond_broadcast(&pool->work_cv);
  pthread_mutex_unlock(&pool->mu);
  int64_t b, e;
  chunk(n, pool->n, 0, &b, &e); /* the caller takes chunk 0 */
  if (b < e) fn(ctx, b, e);
  for (int i = 0; i < SPIN_ROUNDS && atomic_load_explicit(&pool->pending, memory_order_acquire) > 0; i++)
    cpu_relax();
  if (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0) {
    pthread_mutex_lock(&pool->mu);
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0)
      pthread_cond_wait(&pool->done_cv, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
  }
}
