"""The layout's rules that lint-imports does not state: no import cycle between any two modules
(imports inside functions count: grimp sees them), modules short enough to read, and nothing
from tools/ or benchmarks/ inside the installed package."""
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 350


@pytest.mark.parametrize('package', ['interhand_ros', 'training'])
def test_no_module_imports_one_that_imports_it_back(package):
    graph = grimp.build_graph(package)
    cycles = [(module, other) for module in sorted(graph.modules)
              for other in graph.find_modules_directly_imported_by(module)
              if graph.chain_exists(importer=other, imported=module)]
    assert cycles == [], f'import cycles through: {cycles}'


@pytest.mark.parametrize('package', ['interhand_ros', 'training'])
def test_no_module_is_longer_than_the_guide(package):
    long = {str(path.relative_to(REPO)): lines for path in (REPO / package).rglob('*.py')
            if (lines := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_tools_and_benchmarks_stay_outside_the_installed_package():
    graph = grimp.build_graph('interhand_ros', 'tools', 'benchmarks')
    installed = graph.find_descendants('interhand_ros')
    names = {module.rsplit('.', 1)[-1] for module in installed}
    assert not names & {'bench', 'node_bench', 'demo', 'demo_camera', 'demo_topics',
                        'latency_probe', 'synthetic', 'synthetic_hands', 'soak'}
    leaks = [(module, imported) for module in installed
             for imported in graph.find_modules_directly_imported_by(module)
             if imported.split('.')[0] in ('tools', 'benchmarks')]
    assert leaks == []
