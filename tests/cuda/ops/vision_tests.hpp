// SPDX-License-Identifier: Apache-2.0
// The vision ops (core/vision_backend.hpp) against the CPU backend: LayerNorm (in place too),
// GELU, the periodic row add, the per-row RoPE table, attention within tiles (a tile longer
// than the block, and more than one tile) and the row gather (an out-of-range row refused).
// Included by ops_test.cu.
namespace {


TEST_F(CudaOps, VisionLayerNormGeluAndPeriodicRows) {
  const auto w = random_floats(97, 31), b = random_floats(97, 32);
  auto upload = [&](const std::vector<float>& v) {
    HostWeight h;
    h.view.dtype = DType::f32;
    h.view.rank = 1;
    h.view.shape[0] = std::int64_t(v.size());
    h.view.data = reinterpret_cast<const std::byte*>(v.data());
    return gpu().upload_f32(h.view);
  };
  const auto dw = upload(w), db = upload(b);
  const VectorView<const float, Host> hw{w.data(), 97}, hb{b.data(), 97};
  Twin x(gpu(), 35, 97, 33, 3.0f), y(gpu(), 35, 97, std::vector<float>(35 * 97));
  cpu_.layer_norm(y.cpu(), x.cpu(), hw, hb, 1e-5f);
  gpu().layer_norm(y.gpu(), x.gpu(), dw, db, 1e-5f);
  EXPECT_LE(y.error(gpu()), op_tolerance);
  cpu_.layer_norm(x.cpu(), x.cpu(), hw, hb, 1e-5f);  // in place
  gpu().layer_norm(x.gpu(), x.gpu(), dw, db, 1e-5f);
  EXPECT_LE(x.error(gpu()), op_tolerance);
  cpu_.gelu(x.cpu());
  gpu().gelu(x.gpu());
  EXPECT_LE(x.error(gpu()), op_tolerance);
  Twin table(gpu(), 7, 97, 34);
  cpu_.add_periodic_rows(x.cpu(), table.cpu());
  gpu().add_periodic_rows(x.gpu(), table.gpu());
  EXPECT_EQ(x.download(gpu()), x.host);
}

TEST_F(CudaOps, VisionRotatePairsByARowTable) {
  const std::vector<float> t = layers::vision_rope_table(4, 16, 10000.0);  // 17 rows x 16
  Twin table(gpu(), 17, 16, t);
  Twin x(gpu(), 34, 3 * 16, 35);
  cpu_.rotate_pairs(x.cpu(), 3, 16, table.cpu());
  gpu().rotate_pairs(x.gpu(), 3, 16, table.gpu());
  EXPECT_LE(x.error(gpu()), op_tolerance);
}

TEST_F(CudaOps, VisionTileAttentionStaysInsideEachTile) {
  for (const std::int64_t tile_rows : {std::int64_t(17), std::int64_t(201)}) {  // 201 > the block's 128 threads
    const std::int64_t n = 3 * tile_rows;
    Twin q(gpu(), n, 2 * 24, 36), k(gpu(), n, 2 * 24, 37), v(gpu(), n, 2 * 24, 38);
    Twin out(gpu(), n, 2 * 24, std::vector<float>(std::size_t(n * 48)));
    const TileAttentionArgs a{2, 24, tile_rows, 0.2f};
    cpu_.tile_attention(out.cpu(), q.cpu(), k.cpu(), v.cpu(), a);
    gpu().tile_attention(out.gpu(), q.gpu(), k.gpu(), v.gpu(), a);
    EXPECT_LE(out.error(gpu()), op_tolerance) << tile_rows;
  }
}

TEST_F(CudaOps, VisionGatherRowsAndItsRangeCheck) {
  Twin x(gpu(), 17, 40, 39), y(gpu(), 16, 40, std::vector<float>(16 * 40));
  const std::vector<int> rows = layers::pixel_shuffle_rows(1, 4, 0.5f);  // drops the class row 16
  gpu::DeviceBuffer<int> drows;
  gpu().copy_from_host(drows, std::span<const int>(rows));
  cpu_.gather_rows(y.cpu(), x.cpu(), MatrixView<const int, Host>(rows.data(), 16, 1));
  gpu().gather_rows(y.gpu(), x.gpu(), MatrixView<const int, Device>(drows.data(), 16, 1));
  EXPECT_EQ(y.download(gpu()), y.host);
  std::vector<int> bad = rows;
  bad[5] = 17;
  gpu().copy_from_host(drows, std::span<const int>(bad));
  EXPECT_THROW(gpu().gather_rows(y.gpu(), x.gpu(), MatrixView<const int, Device>(drows.data(), 16, 1)), Error);
}

}  // namespace
