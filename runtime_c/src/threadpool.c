/* A small fixed pthread pool. Workers sleep on a condition variable between
 * jobs (no spinning). Chunk i of a job always covers the same index range for
 * a given thread count, and ops only split independent work, so results do
 * not depend on the thread count. */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

struct pfw_threadpool {
  int32_t n;              /* threads including the caller */
  pthread_t* workers;
  pthread_mutex_t mu;
  pthread_cond_t work_cv, done_cv;
  uint64_t generation;    /* bumped per job so workers see each job once */
  int32_t pending;        /* workers still running the current job */
  bool stop;
  pfw_task_fn fn;
  void* ctx;
  int64_t total;
};

static void chunk(int64_t total, int32_t parts, int32_t i, int64_t* b, int64_t* e) {
  int64_t base = total / parts, rem = total % parts;
  *b = i * base + (i < rem ? i : rem);
  *e = *b + base + (i < rem ? 1 : 0);
}

typedef struct {
  pfw_threadpool* pool;
  int32_t index;
} worker_arg;

static void* worker_main(void* p) {
  worker_arg* arg = p;
  pfw_threadpool* pool = arg->pool;
  int32_t index = arg->index;
  free(arg);
  uint64_t seen = 0;
  pthread_mutex_lock(&pool->mu);
  for (;;) {
    while (!pool->stop && pool->generation == seen) pthread_cond_wait(&pool->work_cv, &pool->mu);
    if (pool->stop) break;
    seen = pool->generation;
    pfw_task_fn fn = pool->fn;
    void* ctx = pool->ctx;
    int64_t b, e;
    chunk(pool->total, pool->n, index, &b, &e);
    pthread_mutex_unlock(&pool->mu);
    if (b < e) fn(ctx, b, e);
    pthread_mutex_lock(&pool->mu);
    if (--pool->pending == 0) pthread_cond_signal(&pool->done_cv);
  }
  pthread_mutex_unlock(&pool->mu);
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
  pool->pending = pool->n - 1;
  pool->generation++;
  pthread_cond_broadcast(&pool->work_cv);
  pthread_mutex_unlock(&pool->mu);
  int64_t b, e;
  chunk(n, pool->n, 0, &b, &e); /* the caller takes chunk 0 */
  if (b < e) fn(ctx, b, e);
  pthread_mutex_lock(&pool->mu);
  while (pool->pending > 0) pthread_cond_wait(&pool->done_cv, &pool->mu);
  pthread_mutex_unlock(&pool->mu);
}
