// Reads two features of three customers from the server `npm start` runs (TESSERA_SERVER,
// default 127.0.0.1:6566), with an API key and TLS when TESSERA_API_KEY and TESSERA_TLS_CA are set.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	tessera "github.com/tessera-fs/tessera/clients/go"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	server := os.Getenv("TESSERA_SERVER")
	if server == "" {
		server = "127.0.0.1:6566"
	}
	var opts []tessera.Option
	if key := os.Getenv("TESSERA_API_KEY"); key != "" {
		opts = append(opts, tessera.WithAPIKey(key))
	}
	if ca := os.Getenv("TESSERA_TLS_CA"); ca != "" {
		opts = append(opts, tessera.WithTLS(tessera.TLSConfig{CAFile: ca}))
	}
	client, err := tessera.Dial(ctx, server, opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	refs := []string{"customer_stats:loyalty_score", "customer_stats:segment"}
	customers := tessera.Int64s(1001, 1013, 9999)
	got, err := client.GetOnlineFeatures(ctx, refs, map[string]tessera.Column{"customer_id": customers})
	if err != nil {
		log.Fatal(err) // a *tessera.Error: code, message, problem list
	}
	for row, id := range customers.Data {
		fmt.Print(id)
		for _, feature := range got.Features {
			if feature.Statuses[row] == tessera.Present {
				fmt.Printf("  %v", feature.Values.Any(row))
			} else {
				fmt.Printf("  (%v)", feature.Statuses[row])
			}
		}
		fmt.Println()
	}
}
