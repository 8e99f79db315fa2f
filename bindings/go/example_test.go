package pfw_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	pfw "github.com/pyfw/pyfw/bindings/go"
)

// Loads the golden MLP, runs a batch of two rows and reads the
// probabilities (shape and row sums are what the softmax output fixes).
func Example() {
	dir := os.Getenv("PFW_TEST_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "build", "testdata")
	}
	model, err := pfw.LoadModel(filepath.Join(dir, "mlp.pfw"))
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	it, err := model.NewInterpreter(pfw.WithThreads(2))
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	in := it.Inputs()[0]
	fmt.Println("input", in.Name, in.DType, in.Shape)
	x, err := pfw.NewTensor([]int64{2, 16}, make([]float32, 32))
	if err != nil {
		log.Fatal(err)
	}
	outs, err := it.Run(x)
	if err != nil {
		log.Fatal(err)
	}
	probs, err := pfw.Values[float32](outs[0])
	if err != nil {
		log.Fatal(err)
	}
	sum := float32(0)
	for _, p := range probs[:10] {
		sum += p
	}
	fmt.Printf("output %v, row 0 sums to %.4f\n", outs[0].Shape, sum)
	// Output:
	// input x float32 [-1 16]
	// output [2 10], row 0 sums to 1.0000
}
