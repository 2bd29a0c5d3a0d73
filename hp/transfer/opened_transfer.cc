#include "hp/transfer/opened_transfer.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "hp/tag/record_strip.h"
#include "hp/tag/tag_codec.h"
#include "hp/tag/tag_writer.h"
#include "hp/tag/tagged_model.h"
#include "hp/util/parallel.h"
#include "hp/util/status_macros.h"

namespace hp {
namespace {

GraphValueNames ValueNames(const ModelSplice& splice) {
  const onnx::ModelProto headers = splice.SkeletonWithHeaders();
  const onnx::GraphProto& graph = headers.graph();
  GraphValueNames names;
  absl::flat_hash_set<std::string> initializers;
  for (const onnx::TensorProto& tensor : graph.initializer()) {
    names.initializers.push_back(tensor.name());
    initializers.insert(tensor.name());
  }
  for (const onnx::SparseTensorProto& tensor : graph.sparse_initializer()) {
    names.initializers.push_back(tensor.values().name());
    initializers.insert(tensor.values().name());
  }
  for (const onnx::ValueInfoProto& input : graph.input()) {
    if (!initializers.contains(input.name())) {
      names.inputs.push_back(input.name());
    }
  }
  for (const onnx::ValueInfoProto& output : graph.output()) {
    names.outputs.push_back(output.name());
  }
  return names;
}

std::string Describe(const NodeRef& node) {
  return absl::StrCat("node '", node.name, "' (", node.op_type, ") in ",
                      node.graph_path);
}

absl::Status Untagged(const OpenedTaggedModel& model, const NodeRef& node) {
  return absl::InvalidArgumentError(
      absl::StrCat(model.path, ": ", Describe(node),
                   " carries no hp tag: tag the whole model with `converter "
                   "tag` first"));
}

bool IsTag(const std::optional<absl::string_view>& tag) {
  return tag.has_value() && !tag->empty() && (*tag)[0] == '/';
}

// Every node's tag and module path as hp wrote them, in the format the
// model records. Tags in metadata entries are read on all cores and
// copied, once per run of equal ones: the rules that read them later do so
// off the file's order, where views would fault its pages back in. The
// other formats are read from messages, in order.
absl::Status ReadTags(OpenedTaggedModel* model,
                      const TaggedModelReading& reading) {
  const NodeList& list = model->nodes.list();
  TaggedNodes* tagged = &model->tagged;
  tagged->nodes = &list;
  if (list.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(model->path, ": the tagged model has no nodes"));
  }
  if (!reading.visit) {
    tagged->tags.resize(list.size());
    tagged->module_paths.resize(list.size());
  }
  if (!reading.visit && model->format == TagFormat::kMetadata) {
    std::atomic<size_t> first_untagged{list.size()};
    std::mutex copies_done;
    ForSlices(list.size(), kNodesPerSlice, [&](size_t begin, size_t end) {
      NodeReleaser releaser(list, begin);
      // About the bytes of a module path a node: blocks of 4 MB (huge
      // pages) for a large slice, not thousands of 64 KB ones.
      StringArena copies(
          std::clamp<size_t>((end - begin) * 32, 64 << 10, 4 << 20));
      absl::string_view tag;
      absl::string_view module_path;
      // The records were read before and their pages given back: copied
      // again, a run at a time, rather than mapped again.
      RecordCopy copy(list);
      for (size_t i = begin; i < end && i < first_untagged; ++i) {
        copy.Reached(i, end);
        if (reading.give_back_pages) releaser.Reached(i);
        const WrittenTag written =
            ReadNodeTag(copy[i], TagFormat::kMetadata, nullptr);
        if (!IsTag(written.tag)) {
          size_t first = first_untagged;
          while (i < first && !first_untagged.compare_exchange_weak(first, i)) {
          }
          break;
        }
        // A module's nodes come in runs: a copy per run of equal tags, and
        // per run of equal module paths.
        const absl::string_view written_path = written.module_path.value_or("");
        if (i == begin || *written.tag != tag) tag = copies.Store(*written.tag);
        if (i == begin || written_path != module_path) {
          module_path = copies.Store(written_path);
        }
        tagged->tags[i] = tag;
        tagged->module_paths[i] = module_path;
      }
      const std::lock_guard<std::mutex> lock(copies_done);
      model->tag_copies.push_back(std::move(copies));
    });
    if (first_untagged < list.size()) {
      return Untagged(*model, list[first_untagged]);
    }
    return absl::OkStatus();
  }
  NodeReleaser releaser(list, 0);
  size_t i = 0;
  for (auto it = list.begin(); it != list.end(); ++it, ++i) {
    if (reading.give_back_pages) releaser.Reached(i);
    const NodeRef& node = *it;
    // Views into the record or message; doc_string JSON kept in storage.
    const WrittenTag written =
        ReadNodeTag(node, model->format, &model->tag_storage);
    if (!IsTag(written.tag)) return Untagged(*model, node);
    const absl::string_view module_path = written.module_path.value_or("");
    if (reading.visit) {
      reading.visit({i, list.size(), node, *written.tag, module_path});
      continue;
    }
    tagged->tags[i] = *written.tag;
    tagged->module_paths[i] = module_path;
  }
  return absl::OkStatus();
}

// The derived model must come from the tagged one: its graph inputs are
// among the tagged model's (an optimizer may drop unused ones), and the
// two share value names at their borders.
absl::Status CheckDerived(const std::string& from_path,
                          const std::string& model_path,
                          const GraphValueNames& from,
                          const GraphValueNames& derived) {
  const absl::flat_hash_set<std::string> from_inputs(from.inputs.begin(),
                                                     from.inputs.end());
  for (const std::string& input : derived.inputs) {
    if (!from_inputs.contains(input)) {
      return absl::InvalidArgumentError(absl::StrCat(
          model_path, ": graph input '", input, "' is not an input of ",
          from_path,
          ": the model must be derived from the tagged one (same graph "
          "inputs, or fewer)"));
    }
  }
  absl::flat_hash_set<std::string> border(from.inputs.begin(),
                                          from.inputs.end());
  border.insert(from.outputs.begin(), from.outputs.end());
  border.insert(from.initializers.begin(), from.initializers.end());
  for (const std::vector<std::string>* names :
       {&derived.inputs, &derived.outputs, &derived.initializers}) {
    for (const std::string& name : *names) {
      if (border.contains(name)) return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      model_path, " shares no graph input, output or initializer name with ",
      from_path,
      ": it is not derived from that model, so its tags cannot be "
      "transferred"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpenedTaggedModel>> OpenTaggedModel(
    const std::string& path, const TaggedModelReading& reading) {
  SpliceOptions open;
  open.read_node_records = true;
  HP_ASSIGN_OR_RETURN(ModelSplice splice, ModelSplice::Open(path, open));
  if (!IsTagged(splice.skeleton())) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " carries no hp tags (no ", kFormatKey,
                     "): it must be a model written by `converter tag`"));
  }
  auto model = std::make_unique<OpenedTaggedModel>();
  model->path = path;
  model->splice = std::make_unique<ModelSplice>(std::move(splice));
  model->format = RecordedTagFormat(model->splice->skeleton());
  // The attribute and doc_string formats are read from messages.
  if (model->format != TagFormat::kMetadata) {
    HP_RETURN_IF_ERROR(model->splice->ParseAllNodes());
  }
  model->nodes = SpliceNodes(model->splice.get());
  HP_RETURN_IF_ERROR(ReadTags(model.get(), reading));
  // The tags are read: nothing reads the entries again, and for a large
  // graph their places are most of what the list holds beside its nodes.
  model->nodes.ForgetMetadata();
  model->tagged.values = ValueNames(*model->splice);
  return model;
}

absl::StatusOr<std::unique_ptr<OpenedTransfer>> OpenTransfer(
    const std::string& from_path, const std::string& model_path) {
  auto opened = std::make_unique<OpenedTransfer>();
  // The rule reads the tagged model's nodes again after the derived model
  // is open: meanwhile their pages need not be resident.
  TaggedModelReading reading;
  reading.give_back_pages = true;
  HP_ASSIGN_OR_RETURN(opened->from, OpenTaggedModel(from_path, reading));
  opened->model_path = model_path;
  SpliceOptions open;
  open.read_node_records = true;
  HP_ASSIGN_OR_RETURN(ModelSplice splice, ModelSplice::Open(model_path, open));
  opened->splice = std::make_unique<ModelSplice>(std::move(splice));
  opened->derived_values = ValueNames(*opened->splice);
  HP_RETURN_IF_ERROR(CheckDerived(from_path, model_path,
                                  opened->from->tagged.values,
                                  opened->derived_values));
  // A derived model that kept tags (a tool that copies node metadata)
  // loses them first, as tagging a tagged model does.
  HP_RETURN_IF_ERROR(StripTags(opened->splice.get()));
  opened->derived = SpliceNodes(opened->splice.get());
  opened->result = TransferTags(opened->from->tagged, opened->derived.list(),
                                opened->derived_values);
  const TransferStatistics& statistics = opened->result.statistics;
  const int64_t matched = statistics.Count(MatchKind::kKept) +
                          statistics.Count(MatchKind::kReplacing);
  if (statistics.nodes > 0 && matched == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        model_path, ": none of its ", statistics.nodes,
        " nodes computes a tensor of ", from_path,
        " (no node kept or replacing one): it is not derived from that "
        "model, so its tags cannot be transferred"));
  }
  return opened;
}

}  // namespace hp
