// Command digits runs a digits classifier (.pfw) over a test split, one image at a
// time, and prints accuracy and mean latency: the Go row of `make demo`.
//
//	go run ./examples/go/digits MODEL.pfw IMAGES.f32 LABELS.i64
//
// images: N x 1 x 8 x 8 float32, labels: N int64, both raw little-endian.
package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"time"

	pfw "github.com/pyfw/pyfw/bindings/go"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: digits MODEL.pfw IMAGES.f32 LABELS.i64")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "digits:", err)
		os.Exit(1)
	}
}

func run(modelPath, imagesPath, labelsPath string) error {
	xs, err := os.ReadFile(imagesPath)
	if err != nil {
		return err
	}
	ys, err := os.ReadFile(labelsPath)
	if err != nil {
		return err
	}
	n := len(ys) / 8
	if len(xs) != n*64*4 {
		return fmt.Errorf("%s and %s do not hold %d 8x8 images with labels", imagesPath, labelsPath, n)
	}
	model, err := pfw.LoadModel(modelPath)
	if err != nil {
		return err
	}
	defer model.Close()
	it, err := model.NewInterpreter(pfw.WithThreads(1))
	if err != nil {
		return err
	}
	defer it.Close()
	image := make([]float32, 64)
	correct := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		for k := range image {
			image[k] = math.Float32frombits(binary.LittleEndian.Uint32(xs[(i*64+k)*4:]))
		}
		x, err := pfw.NewTensor([]int64{1, 1, 8, 8}, image)
		if err != nil {
			return err
		}
		outs, err := it.Run(x)
		if err != nil {
			return err
		}
		logits, err := pfw.Values[float32](outs[0])
		if err != nil {
			return err
		}
		best := 0
		for k := range logits {
			if logits[k] > logits[best] {
				best = k
			}
		}
		if int64(best) == int64(binary.LittleEndian.Uint64(ys[i*8:])) {
			correct++
		}
	}
	ms := float64(time.Since(start).Microseconds()) / 1e3 / float64(n)
	fmt.Printf("accuracy %.4f latency_ms %.4f\n", float64(correct)/float64(n), ms)
	return nil
}
